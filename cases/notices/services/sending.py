"""Sending a notice: by e-mail (or to a trusted-flagger address) with its document and
attachments, or, for a web form, making its text final and then recording the person's
submission of the platform's form. Either way the notice is then "sent": its text is frozen
with its SHA-256, its deadline starts, its findings move to "notice sent"."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.message import make_msgid
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.evidence.models import CustodyAction, Evidence, EvidenceKind
from cases.evidence.services.evidence import custody_record, evidence_ingest
from cases.evidence.uploads import UploadRefused, upload_validate
from cases.intake.models import FindingStatus
from cases.intake.services.findings import finding_set_status
from cases.kernel.actor import Actor, actor_user
from cases.kernel.audit.services import audit_record
from cases.kernel.storage import blob_open
from cases.kernel.times import when
from cases.notices.bases import due_after
from cases.notices.models import LegalBasis, Notice, NoticeChannel, NoticeStatus, WebhookEvent
from cases.notices.services.drafts import (
    notice_attachable,
    notice_missing,
    notice_recipient,
    notice_render,
)
from cases.notices.services.errors import NoticeError, NoticeSendRefused
from cases.notices.services.templates import RenderedNotice
from cases.notices.webhooks import webhook_emit

log = logging.getLogger(__name__)

# Findings move to "notice sent" from these statuses when their notice leaves.
NOTICEABLE = (FindingStatus.TRIAGED, FindingStatus.CAPTURED, FindingStatus.REAPPEARED)


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
    webhook_emit(notice=notice, event=WebhookEvent.NOTICE_SENT)


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
                % {"final": when(notice.finalised_at)}
            )
        evidence = None
        if confirmation is not None:
            evidence = _confirmation_ingest(notice, actor, confirmation, confirmation_name)
        notice.platform_reference = reference
        notice.submitted_by = actor_user(actor)
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
