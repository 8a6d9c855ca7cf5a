"""Takedown notices: create, render, check, send, and follow them to an outcome.

Lifecycle: draft → sent → acknowledged → actioned | rejected | no_response (a sent notice
may also close directly). A web-form notice goes draft → awaiting_submission when its text
is made final, and only becomes sent when a person records the submission of the platform's
form with the reference number it returned (notice_record_submission); its sending time and
deadline start from that submission. Every change writes an audit event, and status changes after
sending tell the agency's webhooks (cases.notices.webhooks). The text of a sent notice is frozen:
subject and body exactly as sent, with their SHA-256 (Notice.save refuses later edits).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.mail import EmailMessage, get_connection
from django.core.mail.message import make_msgid
from django.db import transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.template.defaulttags import DebugNode
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import override

from cases.agency.models import Platform
from cases.evidence.models import Capture, CaptureObservation, CustodyAction, Evidence, EvidenceKind
from cases.evidence.services.evidence import custody_record, evidence_ingest
from cases.evidence.uploads import UploadRefused, upload_validate
from cases.intake.models import Finding, FindingStatus
from cases.intake.services.findings import finding_set_status
from cases.kernel.audit.services import AuditEntry, audit_record, audit_record_many
from cases.kernel.models import Agency
from cases.kernel.storage import blob_open
from cases.matching.models import ReferenceMedia
from cases.notices.bases import (
    STATEMENTS,
    NoticeFacts,
    Requirement,
    due_after,
    foreign_wording,
    missing_requirements,
)
from cases.notices.defaults import default_template
from cases.notices.models import (
    OPEN_NOTICE_STATUSES,
    LegalBasis,
    Notice,
    NoticeChannel,
    NoticeStatus,
    NoticeTemplate,
    SignerProfile,
    WebhookEvent,
)

log = logging.getLogger(__name__)

Actor = AbstractBaseUser | AnonymousUser | None


# A sandboxed engine for agency-edited templates: builtin tags and filters only, no
# loaders (so no {% include %} of our own templates), autoescape off (plain text e-mail).
# The context holds only strings and lists, so no template can call into a model.
class _NoticeEngine(Engine):
    # Without django.template.loader_tags: no {% include %}, {% extends %} or {% block %}.
    default_builtins = ["django.template.defaulttags", "django.template.defaultfilters"]


TEMPLATE_ENGINE = _NoticeEngine(autoescape=False, loaders=[], libraries={}, debug=False)
# Findings move to "notice sent" from these statuses when their notice leaves.
NOTICEABLE = (FindingStatus.TRIAGED, FindingStatus.CAPTURED, FindingStatus.REAPPEARED)
SAFE_ATTACHMENT_KINDS = (EvidenceKind.SCREENSHOT,)


class NoticeError(ValueError):
    """A notice action that cannot be done; the message is for the user."""


class NoticeSendRefused(NoticeError):
    """Sending was refused because required fields are missing (named in the message)."""

    def __init__(self, missing: Sequence[Requirement]) -> None:
        self.missing = list(missing)
        names = "; ".join(str(req.label) for req in self.missing)
        super().__init__(_("This notice cannot be sent. Missing: %(fields)s.") % {"fields": names})


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    body: str

    @property
    def sha256(self) -> str:
        return rendered_sha256(self.subject, self.body)


def rendered_sha256(subject: str, body: str) -> str:
    """The hash kept with a sent notice: SHA-256 of "Subject: <subject>\\n\\n<body>" in UTF-8."""
    return hashlib.sha256(f"Subject: {subject}\n\n{body}".encode()).hexdigest()


# ------------------------------------------------------------------------- signers and templates


def signer_profile_save(*, agency: Agency, user: AbstractBaseUser, **fields: Any) -> SignerProfile:
    """Create or update the user's signer profile; the audit event names the changed fields."""
    with transaction.atomic():
        profile, created = SignerProfile.objects.select_for_update().get_or_create(
            agency=agency, user=user
        )
        changed = [name for name, value in fields.items() if getattr(profile, name) != value]
        for name in changed:
            setattr(profile, name, fields[name])
        profile.save()
        if changed or created:
            audit_record(
                agency=agency,
                actor=user,
                action="signer_profile.saved",
                obj=profile,
                data={"fields": changed, "created": created},
            )
    return profile


def notice_template_check(source: str) -> None:
    """Raise NoticeError when `source` is not a valid template for notices."""
    try:
        template = TEMPLATE_ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise NoticeError(_("The template has an error: %(error)s") % {"error": exc}) from exc
    if template.nodelist.get_nodes_by_type(DebugNode):
        # {% debug %} would print the context and the list of loaded modules.
        raise NoticeError(_("The template has an error: %(error)s") % {"error": "{% debug %}"})


def notice_template_save(
    *, agency: Agency, legal_basis: str, language: str, subject: str, body: str, actor: Actor
) -> NoticeTemplate:
    """Store the agency's wording for one basis and language (checked before it is saved)."""
    notice_template_check(subject)
    notice_template_check(body)
    with transaction.atomic():
        template, _created = NoticeTemplate.objects.update_or_create(
            agency=agency,
            legal_basis=legal_basis,
            language=language,
            defaults={
                "subject": subject,
                "body": body,
                "updated_by": actor if actor and actor.is_authenticated else None,
            },
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="notice_template.saved",
            obj=template,
            data={
                "basis": legal_basis,
                "language": language,
                "sha256": rendered_sha256(subject, body),
            },
        )
    return template


def notice_template_reset(*, agency: Agency, legal_basis: str, language: str, actor: Actor) -> None:
    """Go back to the shipped default wording."""
    with transaction.atomic():
        deleted, _detail = NoticeTemplate.objects.filter(
            agency=agency, legal_basis=legal_basis, language=language
        ).delete()
        if deleted:
            entry = AuditEntry(
                action="notice_template.reset",
                object_type="noticetemplate",
                data={"basis": legal_basis, "language": language},
            )
            audit_record_many(agency=agency, actor=actor, entries=[entry])


def notice_template_source(*, agency: Agency, legal_basis: str, language: str) -> tuple[str, str]:
    """(subject, body) the agency uses: its own row, or the shipped default."""
    row = NoticeTemplate.objects.filter(
        agency=agency, legal_basis=legal_basis, language=language
    ).first()
    return (row.subject, row.body) if row else default_template(legal_basis, language)


# ------------------------------------------------------------------------- create and edit


def _check_draft_inputs(
    agency: Agency,
    findings: Sequence[Finding],
    reference_media: Iterable[ReferenceMedia],
    attachments: Iterable[Evidence],
    signer: SignerProfile | None,
    include_explicit: bool,
) -> Platform:
    if not findings:
        raise NoticeError(_("Choose at least one finding for the notice."))
    if any(f.agency_id != agency.pk for f in findings):
        raise NoticeError(_("A finding belongs to another agency."))
    platforms = {f.platform_id for f in findings}
    if None in platforms:
        hosts = sorted({f.host for f in findings if f.platform_id is None})
        raise NoticeError(
            _("These hosts are not linked to a platform: %(hosts)s. Add them to a platform first.")
            % {"hosts": ", ".join(hosts[:5])}
        )
    if len(platforms) > 1:
        raise NoticeError(
            _("A notice goes to one platform; the chosen findings are on %(count)s platforms.")
            % {"count": len(platforms)}
        )
    if any(r.agency_id != agency.pk for r in reference_media):
        raise NoticeError(_("A reference media item belongs to another agency."))
    finding_ids = {f.pk for f in findings}
    for item in attachments:
        if item.agency_id != agency.pk or item.finding_id not in finding_ids:
            raise NoticeError(_("Attachments must be evidence of the notice's findings."))
        if item.kind not in SAFE_ATTACHMENT_KINDS and not include_explicit:
            raise NoticeError(
                _(
                    "Evidence #%(id)s is not a screenshot: attaching media needs the "
                    "explicit-media checkbox."
                )
                % {"id": item.pk}
            )
    if signer is not None and signer.agency_id != agency.pk:
        raise NoticeError(_("The signer belongs to another agency."))
    return findings[0].platform  # type: ignore[return-value]


def notice_create(
    *,
    agency: Agency,
    actor: Actor,
    findings: Sequence[Finding],
    legal_basis: str,
    language: str = "en",
    channel: str = "",
    signer: SignerProfile | None = None,
    explanation: str = "",
    original_work_description: str = "",
    reference_media: Iterable[ReferenceMedia] = (),
    attachments: Iterable[Evidence] = (),
    include_explicit: bool = False,
    csam_waiver: bool = False,
    assignee: AbstractBaseUser | None = None,
) -> Notice:
    """A draft notice for findings on one platform. The channel defaults to the platform's."""
    reference_media, attachments = list(reference_media), list(attachments)
    platform = _check_draft_inputs(
        agency, findings, reference_media, attachments, signer, include_explicit
    )
    if legal_basis not in LegalBasis.values:
        raise NoticeError(_("Unknown legal basis."))
    creator = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        notice = Notice.objects.create(
            agency=agency,
            platform=platform,
            legal_basis=legal_basis,
            language=language,
            channel=channel or platform.channel,
            signer=signer,
            explanation=explanation,
            original_work_description=original_work_description,
            include_explicit=include_explicit,
            csam_waiver=csam_waiver,
            created_by=creator,
            assignee=assignee or creator,
        )
        notice.findings.set(findings)
        notice.reference_media.set(reference_media)
        notice.attachments.set(attachments)
        audit_record(
            agency=agency,
            actor=actor,
            action="notice.created",
            obj=notice,
            data={
                "basis": legal_basis,
                "platform": platform.name,
                "findings": [f.pk for f in findings],
            },
        )
    return notice


DRAFT_FIELDS = (
    "legal_basis",
    "language",
    "channel",
    "signer",
    "explanation",
    "original_work_description",
    "include_explicit",
    "csam_waiver",
    "assignee",
)


def notice_update(
    *,
    notice: Notice,
    actor: Actor,
    reference_media: Iterable[ReferenceMedia] | None = None,
    attachments: Iterable[Evidence] | None = None,
    **fields: Any,
) -> Notice:
    """Change a draft. A sent notice is frozen."""
    unknown = set(fields) - set(DRAFT_FIELDS)
    if unknown:
        raise TypeError(f"notice_update() got unexpected fields: {sorted(unknown)}")
    with transaction.atomic():
        notice = Notice.objects.select_for_update().get(pk=notice.pk)
        if not notice.is_draft:
            raise NoticeError(_("Only a draft can be edited; this notice was sent."))
        findings = list(notice.findings.all())
        refs = list(reference_media) if reference_media is not None else []
        files = list(attachments) if attachments is not None else []
        _check_draft_inputs(
            notice.agency,
            findings,
            refs,
            files,
            fields.get("signer", notice.signer),
            fields.get("include_explicit", notice.include_explicit),
        )
        changed = sorted(name for name, value in fields.items() if getattr(notice, name) != value)
        for name in changed:
            setattr(notice, name, fields[name])
        notice.save()
        if reference_media is not None:
            notice.reference_media.set(refs)
            changed.append("reference_media")
        if attachments is not None:
            notice.attachments.set(files)
            changed.append("attachments")
        audit_record(
            agency=notice.agency,
            actor=actor,
            action="notice.updated",
            obj=notice,
            data={"fields": changed},
        )
    return notice


# ------------------------------------------------------------------------- render and check


def _statements(notice: Notice) -> dict[str, str]:
    language = notice.language
    statements = {key: texts[language] for key, texts in STATEMENTS.items()}
    signer = notice.signer
    if signer is not None:
        # The signer's own wording of the DMCA statements, when they keep one.
        if signer.good_faith_statement.strip():
            statements["good_faith"] = signer.good_faith_statement.strip()
        if signer.accuracy_statement.strip():
            statements["accuracy"] = signer.accuracy_statement.strip()
    return statements


def _works(notice: Notice) -> list[str]:
    works = []
    for ref in notice.reference_media.select_related("artist").order_by("pk"):
        parts = [ref.title, ref.artist.stage_name]
        if ref.published_on:
            parts.append(ref.published_on.isoformat())
        if ref.source_url:
            parts.append(ref.source_url)
        works.append(" · ".join(parts))
    if notice.original_work_description.strip():
        works.append(notice.original_work_description.strip())
    return works


def notice_context(notice: Notice, *, when: datetime | None = None) -> dict[str, Any]:
    """The template context: plain strings and lists only."""
    findings = list(notice.findings.order_by("pk").prefetch_related("artists"))
    artists: dict[int, str] = {}
    for finding in findings:
        for artist in finding.artists.all():
            artists.setdefault(artist.pk, artist.stage_name)
    signer = notice.signer
    with override(notice.language):
        date = date_format(timezone.localtime(when or timezone.now()), "DATE_FORMAT")
    return {
        "agency": notice.agency.name,
        "platform": notice.platform.name,
        "basis": LegalBasis(notice.legal_basis).label,
        "date": date,
        "notice_id": str(notice.pk),
        "urls": [f.url.strip() or f.canonical_url for f in findings],
        "works": _works(notice),
        "artists": list(artists.values()),
        "explanation": notice.explanation.strip(),
        "signer": {
            "full_name": signer.full_name if signer else "",
            "title": signer.title if signer else "",
            "organisation": signer.organisation if signer else "",
            "postal_address": signer.postal_address if signer else "",
            "phone": signer.phone if signer else "",
            "email": signer.email if signer else "",
            "signature": signer.signature_text if signer else "",
        },
        "evidence": _evidence_lines(notice),
        # Every statement stays available so that an admin's edited template renders as
        # written; the defaults use only their basis's (STATEMENT_KEYS), and a notice with
        # another basis's wording is flagged (notice_foreign_wording).
        "statements": _statements(notice),
    }


def _evidence_lines(notice: Notice) -> list[str]:
    """The attached evidence as the notice lists it (the 소명 자료 of a Network Act request)."""
    with override(notice.language):
        return [
            f"#{item.pk} {item.get_kind_display()} · SHA-256 {item.sha256}"
            for item in notice_attachable(notice)
        ]


def notice_foreign_wording(notice: Notice, rendered: RenderedNotice | None = None) -> list[Any]:
    """What the notice's text carries that belongs to another legal basis (e.g. the DMCA
    perjury statement in a Network Act request): labels for the notice page."""
    try:
        rendered = rendered or notice_render(notice)
    except NoticeError:
        return []
    text = f"{rendered.subject}\n{rendered.body}"
    return [label for _phrase, label in foreign_wording(notice.legal_basis, notice.language, text)]


def notice_render(notice: Notice, *, when: datetime | None = None) -> RenderedNotice:
    """The notice as it would be sent now (a sent notice: exactly as it was sent)."""
    if not notice.is_draft:
        return RenderedNotice(notice.rendered_subject, notice.rendered_body)
    subject_src, body_src = notice_template_source(
        agency=notice.agency, legal_basis=notice.legal_basis, language=notice.language
    )
    context = Context(notice_context(notice, when=when), autoescape=False)
    try:
        subject = TEMPLATE_ENGINE.from_string(subject_src).render(context)
        body = TEMPLATE_ENGINE.from_string(body_src).render(context)
    except Exception as exc:  # a template edited by an admin must never break the page
        raise NoticeError(
            _("The notice template has an error: %(error)s") % {"error": exc}
        ) from exc
    # One line of subject; bodies without runs of blank lines left by empty {% if %} blocks.
    subject = " ".join(subject.split())[:300]
    lines = [line.rstrip() for line in body.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return RenderedNotice(subject, "\n".join(tidy) + "\n")


def notice_recipient(notice: Notice) -> str:
    platform = notice.platform
    if notice.channel == NoticeChannel.TRUSTED_FLAGGER:
        return platform.trusted_flagger_email or platform.abuse_email
    return platform.abuse_email


def notice_missing(notice: Notice, rendered: RenderedNotice | None = None) -> list[Requirement]:
    """What the notice's legal basis requires and the notice lacks (empty: ready to send)."""
    rendered = rendered or notice_render(notice)
    context = notice_context(notice)
    signer = context["signer"]
    facts = NoticeFacts(
        urls=context["urls"],
        works=context["works"],
        explanation=context["explanation"],
        signer_name=signer["full_name"],
        signature=signer["signature"],
        organisation=signer["organisation"],
        postal_address=signer["postal_address"],
        phone=signer["phone"],
        email=signer["email"],
        csam_waiver=notice.csam_waiver,
        artists=context["artists"],
        recipient_needed=notice.channel != NoticeChannel.WEB_FORM,
        recipient=notice_recipient(notice),
        rendered_body=rendered.body,
        statements=context["statements"],
    )
    return missing_requirements(notice.legal_basis, facts)


# ------------------------------------------------------------------------- send


def notice_attachable(notice: Notice) -> list[Evidence]:
    """The chosen evidence excerpts that may go out: screenshots, and other media only when
    the explicit-media box was ticked."""
    items = notice.attachments.order_by("pk")
    if not notice.include_explicit:
        items = items.filter(kind__in=SAFE_ATTACHMENT_KINDS)
    return list(items)


def notice_document_html(notice: Notice, rendered: RenderedNotice) -> str:
    """A standalone HTML document of the notice (the PDF's source and a fallback file)."""
    from django.utils.html import escape

    return (
        f'<!doctype html><html lang="{notice.language}"><head><meta charset="utf-8">'
        f"<title>{escape(rendered.subject)}</title><style>"
        "body{font-family:'Noto Sans CJK KR','Noto Sans KR','Apple SD Gothic Neo',"
        "'DejaVu Sans',sans-serif;font-size:11pt;margin:2cm}"
        "pre{white-space:pre-wrap;font-family:inherit}"
        "footer{margin-top:2em;font-size:8pt;color:#555}</style></head><body>"
        f"<h1 style='font-size:13pt'>{escape(rendered.subject)}</h1>"
        f"<pre>{escape(rendered.body)}</pre>"
        f"<footer>SHA-256 {rendered.sha256}</footer></body></html>"
    )


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    # The notice document has no external resources; WeasyPrint may fetch nothing.
    raise ValueError(f"notice PDFs load no resources ({url[:60]})")


def notice_document(notice: Notice, rendered: RenderedNotice) -> tuple[str, bytes, str]:
    """(file name, bytes, media type) of the notice document: a PDF rendered by WeasyPrint
    when it is installed (the reports extra), otherwise the HTML document."""
    html = notice_document_html(notice, rendered)
    try:
        # cases.kernel.pdf undoes WeasyPrint's process-wide LOAD_TRUNCATED_IMAGES switch.
        from cases.kernel.pdf import HTML
    except (ImportError, OSError):  # not installed, or its system libraries are missing
        return f"notice-{notice.pk}.html", html.encode(), "text/html"
    pdf = HTML(string=html, url_fetcher=_refuse_fetch).write_pdf()
    return f"notice-{notice.pk}.pdf", pdf, "application/pdf"


def _email(
    notice: Notice, rendered: RenderedNotice, recipient: str, message_id: str
) -> EmailMessage:
    signer = notice.signer
    reply_to = [signer.email] if signer and signer.email else []
    message = EmailMessage(
        subject=rendered.subject,
        body=rendered.body,
        from_email=settings.NOTICE_FROM_EMAIL or settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        reply_to=reply_to,
        headers={"Message-ID": message_id, "X-AgencyGuard-Notice": str(notice.pk)},
    )
    name, data, media_type = notice_document(notice, rendered)
    message.attach(name, data, media_type)
    for item in notice_attachable(notice):
        with blob_open(item.storage_name) as handle:
            content = handle.read()
        label = item.original_name or f"evidence-{item.pk}"
        message.attach(f"evidence-{item.pk}-{label}", content, item.media_type or None)
    return message


def notice_send(*, notice: Notice, actor: Actor) -> Notice:
    """Check the notice against its legal basis, then send it (e-mail and trusted-flagger
    channels) or make its text final for a web form, and record it exactly as sent.

    The e-mail goes out inside the transaction that records it: if the mail server refuses,
    nothing is recorded and the notice stays a draft; the rare commit failure after a
    successful send is logged with the Message-ID so it can be recorded by hand.

    A web-form notice is not sent by this: nobody has submitted the platform's form yet. It
    becomes "ready, awaiting submission" with its text frozen, and is sent when a person
    records the submission (notice_record_submission)."""
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(of=("self",))
            .select_related("agency", "platform", "signer")
            .get(pk=notice.pk)
        )
        if not notice.is_draft:
            raise NoticeError(_("This notice was already sent."))
        now = timezone.now()
        rendered = notice_render(notice, when=now)
        missing = notice_missing(notice, rendered)
        if missing:
            raise NoticeSendRefused(missing)
        notice.rendered_subject, notice.rendered_body = rendered.subject, rendered.body
        notice.rendered_sha256, notice.finalised_at = rendered.sha256, now
        if notice.channel == NoticeChannel.WEB_FORM:
            return _finalise_for_web_form(notice, actor)
        recipient = notice_recipient(notice)
        domain = settings.NOTICE_MESSAGE_ID_DOMAIN or None
        message_id = make_msgid(idstring=f"notice{notice.pk}", domain=domain)
        attached = notice_attachable(notice)
        message = _email(notice, rendered, recipient, message_id)
        try:
            get_connection().send_messages([message])
        except Exception as exc:
            log.exception("sending notice %s failed", notice.pk)
            raise NoticeError(
                _("The mail server did not accept the notice: %(error)s") % {"error": exc}
            ) from exc
        notice.message_id, notice.recipient = message_id, recipient
        _mark_sent(
            notice,
            actor,
            sent_at=now,
            action="notice.sent",
            extra={
                "recipient": recipient,
                "message_id": message_id,
                "attachments": [item.sha256 for item in attached],
            },
        )
        for item in attached:
            custody_record(
                evidence=item,
                action=CustodyAction.TRANSFERRED,
                actor=actor,
                reason=_("Attached to notice #%(id)s sent to %(to)s")
                % {"id": notice.pk, "to": recipient},
            )
    return notice


def _finalise_for_web_form(notice: Notice, actor: Actor) -> Notice:
    # Inside notice_send's transaction: the text is frozen (Notice.save refuses later edits)
    # but nothing was sent, so no sending time, no deadline, no finding status change.
    notice.status = NoticeStatus.AWAITING_SUBMISSION
    notice.save()
    audit_record(
        agency=notice.agency,
        actor=actor,
        action="notice.finalised",
        obj=notice,
        data={
            "channel": notice.channel,
            "sha256": notice.rendered_sha256,
            "findings": list(notice.findings.values_list("pk", flat=True)),
        },
    )
    return notice


def _mark_sent(
    notice: Notice, actor: Actor, *, sent_at: datetime, action: str, extra: dict[str, Any]
) -> None:
    """The notice reached the platform at `sent_at`: its deadline starts, its findings move to
    "notice sent", the audit event and the webhooks say so. Inside the caller's transaction."""
    notice.status = NoticeStatus.SENT
    notice.sent_at = sent_at
    notice.due_at = sent_at + due_after(notice.legal_basis, notice.platform.notice_due_hours)
    notice.save()
    findings = list(notice.findings.all())
    audit_record(
        agency=notice.agency,
        actor=actor,
        action=action,
        obj=notice,
        data={
            "channel": notice.channel,
            "sha256": notice.rendered_sha256,
            "sent_at": sent_at.isoformat(),
            "due_at": notice.due_at.isoformat(),
            "findings": [f.pk for f in findings],
            **extra,
        },
    )
    reason = _("Notice #%(id)s sent (%(basis)s).") % {
        "id": notice.pk,
        "basis": LegalBasis(notice.legal_basis).label,
    }
    for finding in findings:
        if finding.status in NOTICEABLE:
            finding_set_status(
                finding=finding, status=FindingStatus.NOTICE_SENT, actor=actor, reason=reason
            )
    _emit(notice, WebhookEvent.NOTICE_SENT)


# A recorded submission time may run this far ahead of the server clock (a person's watch).
SUBMISSION_CLOCK_SKEW = timedelta(minutes=5)
CONFIRMATION_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "application/pdf")


def _confirmation_ingest(notice: Notice, actor: Actor, fileobj: IO[bytes], name: str) -> Evidence:
    # Validated like any upload (size, magic bytes, allowlist), and only screenshots or PDFs.
    try:
        validated = upload_validate(fileobj, name=name or "confirmation")
    except UploadRefused as refused:
        raise NoticeError(refused.message) from refused
    if validated.file_type.media_type not in CONFIRMATION_TYPES:
        raise NoticeError(
            _("The confirmation must be a screenshot or a PDF (this file is %(label)s).")
            % {"label": validated.file_type.label}
        )
    fileobj.seek(0)
    evidence, _created = evidence_ingest(
        agency=notice.agency,
        data=fileobj,
        kind=EvidenceKind.UPLOAD,
        collected_by=actor,
        original_name=validated.display_name,
        media_type=validated.file_type.media_type,
    )
    return evidence


def notice_record_submission(
    *,
    notice: Notice,
    actor: Actor,
    platform_reference: str,
    submitted_at: datetime | None = None,
    confirmation: IO[bytes] | None = None,
    confirmation_name: str = "",
) -> Notice:
    """A person submitted the platform's web form with the notice's final text: record the
    reference number the form returned, when it was submitted (default: now) and optionally
    the confirmation screenshot or PDF. Only now is the notice sent; its deadline starts at
    the submission. Raises NoticeError with a message for the user."""
    reference = (platform_reference or "").strip()
    if not reference:
        raise NoticeError(_("Enter the reference number the platform's form returned."))
    if len(reference) > 200:
        raise NoticeError(_("The reference number is longer than 200 characters."))
    now = timezone.now()
    submitted_at = submitted_at or now
    if timezone.is_naive(submitted_at):
        submitted_at = timezone.make_aware(submitted_at)
    if submitted_at > now + SUBMISSION_CLOCK_SKEW:
        raise NoticeError(_("The submission time is in the future."))
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(of=("self",))
            .select_related("agency", "platform")
            .get(pk=notice.pk)
        )
        if not notice.is_awaiting_submission:
            raise NoticeError(_("Only a web-form notice awaiting submission can be recorded."))
        if notice.finalised_at and submitted_at < notice.finalised_at:
            raise NoticeError(
                _(
                    "The submission time is before the text was final (%(final)s): the text "
                    "submitted may not be the text stored."
                )
                % {"final": timezone.localtime(notice.finalised_at).isoformat(timespec="minutes")}
            )
        evidence = None
        if confirmation is not None:
            evidence = _confirmation_ingest(notice, actor, confirmation, confirmation_name)
        notice.platform_reference = reference
        notice.submitted_by = actor if actor is not None and actor.is_authenticated else None
        notice.submission_confirmation = evidence
        _mark_sent(
            notice,
            actor,
            sent_at=submitted_at,
            action="notice.submitted",
            extra={
                "platform_reference": reference,
                "submitted_at": submitted_at.isoformat(),
                "recorded_at": now.isoformat(),
                "confirmation_sha256": evidence.sha256 if evidence else None,
            },
        )
    return notice


# ------------------------------------------------------------------------- after sending

CLOSING = {
    NoticeStatus.ACTIONED: WebhookEvent.NOTICE_ACTIONED,
    NoticeStatus.REJECTED: WebhookEvent.NOTICE_REJECTED,
    NoticeStatus.NO_RESPONSE: WebhookEvent.NOTICE_NO_RESPONSE,
}


def _emit(notice: Notice, event: str) -> None:
    from cases.notices.webhooks import webhook_emit

    webhook_emit(notice=notice, event=event)


def notice_acknowledge(*, notice: Notice, actor: Actor, platform_reference: str = "") -> Notice:
    """The platform confirmed receipt (a reply, or the reference number its web form gave)."""
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(of=("self",))
            .select_related("agency")
            .get(pk=notice.pk)
        )
        if notice.status != NoticeStatus.SENT:
            raise NoticeError(_("Only a sent notice can be acknowledged."))
        notice.status = NoticeStatus.ACKNOWLEDGED
        notice.acknowledged_at = timezone.now()
        # A blank answer keeps the reference recorded with a web-form submission.
        notice.platform_reference = platform_reference.strip()[:200] or notice.platform_reference
        notice.save()
        audit_record(
            agency=notice.agency,
            actor=actor,
            action="notice.acknowledged",
            obj=notice,
            data={"platform_reference": notice.platform_reference},
        )
        _emit(notice, WebhookEvent.NOTICE_ACKNOWLEDGED)
    return notice


def notice_close(
    *,
    notice: Notice,
    actor: Actor,
    outcome: str,
    note: str = "",
    capture: Capture | None = None,
    at: datetime | None = None,
) -> Notice:
    """Record the outcome: actioned (removed), rejected, or no response."""
    if outcome not in CLOSING:
        raise NoticeError(_("Unknown outcome."))
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(of=("self",))
            .select_related("agency")
            .get(pk=notice.pk)
        )
        if notice.status not in OPEN_NOTICE_STATUSES:
            raise NoticeError(_("Only a sent or acknowledged notice can be closed."))
        old = notice.status
        notice.status = outcome
        notice.closed_at = at or timezone.now()
        notice.outcome_note = note.strip()
        if capture is not None:
            notice.proof_capture = capture
        notice.save()
        audit_record(
            agency=notice.agency,
            actor=actor,
            action=f"notice.{outcome}",
            obj=notice,
            data={
                "from": old,
                "note": notice.outcome_note,
                "capture": capture.pk if capture else None,
            },
        )
        _emit(notice, CLOSING[outcome])
    return notice


def notices_close_for_removed_finding(*, finding: Finding, capture: Capture | None) -> list[Notice]:
    """A finding was seen removed: each open notice whose findings are now all removed is
    closed as actioned, with the capture that saw the removal as proof. Without a capture
    passed in, the finding's latest removal observation is used (the confirming re-check
    that just ran); an unreachable or live visit is never proof of a removal, so a finding
    marked removed by hand without one closes its notices with no proof capture."""
    if capture is None:
        capture = (
            Capture.objects.filter(finding=finding, observation=CaptureObservation.REMOVED)
            .order_by("-observed_at", "-id")
            .first()
        )
    closed = []
    open_notices = Notice.objects.filter(findings=finding, status__in=OPEN_NOTICE_STATUSES)
    for notice in open_notices:
        statuses = set(notice.findings.values_list("status", flat=True))
        if statuses <= {FindingStatus.REMOVED, FindingStatus.DISMISSED}:
            note = _("Finding #%(id)s was seen removed.") % {"id": finding.pk}
            closed.append(
                notice_close(
                    notice=notice,
                    actor=None,
                    outcome=NoticeStatus.ACTIONED,
                    note=note,
                    capture=capture,
                )
            )
    return closed


# ------------------------------------------------------------------------- deadlines


@dataclass
class DeadlineReport:
    reminded: list[int]
    escalated: list[int]
    no_response: list[int]


def _notify(recipients: list[str], subject: str, body: str) -> None:
    if not recipients:
        return
    try:
        EmailMessage(subject=subject, body=body, to=recipients).send()
    except Exception:
        # The audit event records the reminder; a mail outage must not stop the sweep.
        log.exception("could not e-mail a notice deadline message")


def notice_deadlines_check(*, now: datetime | None = None) -> DeadlineReport:
    """The beat task's work: remind the assignee NOTICE_REMINDER_BEFORE before a deadline,
    escalate to the agency's admins once it has passed, and close notices that got no
    answer at all NOTICE_NO_RESPONSE_AFTER past the deadline as "no response".
    Idempotent: reminder_sent_at and escalated_at are set once."""
    from cases.kernel.models import Membership, Role

    now = now or timezone.now()
    report = DeadlineReport([], [], [])
    link = settings.SITE_URL.rstrip("/") + "/notices/{}/"
    remind = Notice.objects.filter(
        status__in=OPEN_NOTICE_STATUSES,
        reminder_sent_at__isnull=True,
        due_at__gt=now,
        due_at__lte=now + settings.NOTICE_REMINDER_BEFORE,
    ).select_related("agency", "platform", "assignee", "created_by")
    for notice in remind:
        with transaction.atomic():
            if not Notice.objects.filter(pk=notice.pk, reminder_sent_at__isnull=True).update(
                reminder_sent_at=now
            ):
                continue  # a concurrent sweep took it
            person = notice.assignee or notice.created_by
            audit_record(
                agency=notice.agency,
                actor=None,
                action="notice.reminder_sent",
                obj=notice,
                data={
                    "due_at": notice.due_at.isoformat(),
                    "to": person.get_username() if person else None,
                },
            )
            subject = _("Notice #%(id)s to %(platform)s is due soon") % {
                "id": notice.pk,
                "platform": notice.platform.name,
            }
            body = _("The deadline of notice #%(id)s is %(due)s.\n\n%(link)s") % {
                "id": notice.pk,
                "due": timezone.localtime(notice.due_at).isoformat(timespec="minutes"),
                "link": link.format(notice.pk),
            }
            emails = [person.email] if person and person.email else []
        # After the row is marked: a crash in between loses one e-mail, never sends two.
        _notify(emails, subject, body)
        report.reminded.append(notice.pk)

    overdue = Notice.objects.filter(
        status__in=OPEN_NOTICE_STATUSES, escalated_at__isnull=True, due_at__lte=now
    ).select_related("agency", "platform")
    for notice in overdue:
        with transaction.atomic():
            if not Notice.objects.filter(pk=notice.pk, escalated_at__isnull=True).update(
                escalated_at=now
            ):
                continue
            admins = list(
                Membership.objects.filter(
                    agency=notice.agency, role=Role.ADMIN, user__is_active=True
                ).values_list("user__email", flat=True)
            )
            audit_record(
                agency=notice.agency,
                actor=None,
                action="notice.escalated",
                obj=notice,
                data={"due_at": notice.due_at.isoformat(), "admins": len(admins)},
            )
            subject = _("Notice #%(id)s to %(platform)s is overdue") % {
                "id": notice.pk,
                "platform": notice.platform.name,
            }
            body = _(
                "Notice #%(id)s passed its deadline (%(due)s) without removal.\n\n%(link)s"
            ) % {
                "id": notice.pk,
                "due": timezone.localtime(notice.due_at).isoformat(timespec="minutes"),
                "link": link.format(notice.pk),
            }
            emails = [e for e in admins if e]
        _notify(emails, subject, body)
        report.escalated.append(notice.pk)

    silent = Notice.objects.filter(
        status=NoticeStatus.SENT, due_at__lte=now - settings.NOTICE_NO_RESPONSE_AFTER
    )
    for notice in silent:
        note = _("No answer %(after)s after the deadline.") % {
            "after": settings.NOTICE_NO_RESPONSE_AFTER
        }
        try:
            notice_close(
                notice=notice, actor=None, outcome=NoticeStatus.NO_RESPONSE, note=note, at=now
            )
        except NoticeError:
            continue  # answered meanwhile
        report.no_response.append(notice.pk)
    return report
