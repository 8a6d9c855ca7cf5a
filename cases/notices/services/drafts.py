"""Draft notices: create and edit them, render them from the agency's template, and check
them against their legal basis (what is missing, what wording belongs to another basis)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from cases.agency.models import Platform
from cases.evidence.models import Evidence, EvidenceKind
from cases.intake.models import Finding
from cases.kernel.actor import Actor, actor_user
from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency
from cases.kernel.times import agency_zone, when_date
from cases.matching.models import ReferenceMedia
from cases.notices.bases import (
    STATEMENTS,
    NoticeFacts,
    Requirement,
    foreign_wording,
    missing_requirements,
)
from cases.notices.models import LegalBasis, Notice, NoticeChannel, SignerProfile
from cases.notices.services.errors import NoticeError
from cases.notices.services.templates import (
    RenderedNotice,
    notice_template_render,
    notice_template_source,
)

SAFE_ATTACHMENT_KINDS = (EvidenceKind.SCREENSHOT,)


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
    recipient: str = "",
    signer: SignerProfile | None = None,
    explanation: str = "",
    original_work_description: str = "",
    reference_media: Iterable[ReferenceMedia] = (),
    attachments: Iterable[Evidence] = (),
    include_explicit: bool = False,
    csam_waiver: bool = False,
    assignee: User | None = None,
) -> Notice:
    """A draft notice for findings on one platform. The channel defaults to the platform's."""
    reference_media, attachments = list(reference_media), list(attachments)
    platform = _check_draft_inputs(
        agency, findings, reference_media, attachments, signer, include_explicit
    )
    if legal_basis not in LegalBasis.values:
        raise NoticeError(_("Unknown legal basis."))
    _check_recipient(recipient)
    creator = actor_user(actor)
    with transaction.atomic():
        notice = Notice.objects.create(
            agency=agency,
            platform=platform,
            legal_basis=legal_basis,
            language=language,
            channel=channel or platform.channel,
            recipient=recipient,
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
                **({"recipient": recipient} if recipient else {}),
            },
        )
    return notice


DRAFT_FIELDS = (
    "legal_basis",
    "language",
    "channel",
    "recipient",
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
    _check_recipient(fields.get("recipient", ""))
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
        date = when_date(when or timezone.now())
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
    with agency_zone(notice.agency):  # its dates in the agency's zone, also in a worker
        subject, body = notice_template_render(
            legal_basis=notice.legal_basis,
            language=notice.language,
            subject=subject_src,
            body=body_src,
            context=notice_context(notice, when=when),
        )
    # One line of subject; bodies without runs of blank lines left by empty {% if %} blocks.
    subject = " ".join(subject.split())[:300]
    lines = [line.rstrip() for line in body.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return RenderedNotice(subject, "\n".join(tidy) + "\n")


def _check_recipient(recipient: str) -> None:
    """A chosen recipient ("" is the platform's address) must be an e-mail address."""
    if recipient:
        try:
            validate_email(recipient)
        except ValidationError as exc:
            raise NoticeError(_("The recipient is not a valid e-mail address.")) from exc


def notice_recipient(notice: Notice) -> str:
    """Where the notice goes: the address chosen on the draft (an abuse contact found by
    RDAP, cases.agency.rdap), else the platform's address for the channel."""
    if notice.recipient:
        return notice.recipient
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


def notice_attachable(notice: Notice) -> list[Evidence]:
    """The chosen evidence excerpts that may go out: screenshots, and other media only when
    the explicit-media box was ticked."""
    items = notice.attachments.order_by("pk")
    if not notice.include_explicit:
        items = items.filter(kind__in=SAFE_ATTACHMENT_KINDS)
    return list(items)
