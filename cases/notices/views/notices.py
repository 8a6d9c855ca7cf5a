"""Notices: list, create from findings, edit the draft, send, follow up; the web-form
checklist; signer profiles; the template editor and webhooks (admins)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cases.agency.selectors import abuse_recipients_for, platform_list_for
from cases.evidence.selectors import evidence_list_for
from cases.intake.selectors import finding_list_for
from cases.kernel.audit.selectors import audit_events_for_object
from cases.kernel.models import Role
from cases.kernel.tenancy import get_or_404
from cases.kernel.web import HtmxHttpRequest, member_required, paginate, parse_ids, query_id
from cases.matching.selectors import reference_media_list_for
from cases.notices.bases import STATEMENT_KEYS, foreign_wording, template_foreign_statements
from cases.notices.defaults import default_template
from cases.notices.forms import (
    NoticeForm,
    NoticeStatusForm,
    NoticeSubmissionForm,
    NoticeTemplateForm,
    SignerProfileForm,
    WebhookForm,
)
from cases.notices.models import (
    OPEN_NOTICE_STATUSES,
    LegalBasis,
    Notice,
    NoticeLanguage,
    NoticeStatus,
    SignerProfile,
)
from cases.notices.selectors import (
    notice_get_for,
    notice_list_for,
    signer_profile_list_for,
    webhook_deliveries_for,
    webhook_list_for,
)
from cases.notices.services import drafts, outcomes, sending, templates
from cases.notices.services.errors import NoticeError
from cases.notices.webhooks import WebhookError, webhook_rotate_secret, webhook_save

# --------------------------------------------------------------------------- list


@require_GET
@member_required()
def notice_list(request: HtmxHttpRequest) -> HttpResponse:
    notices = notice_list_for(request.user)
    status = request.GET.get("status", "")
    if status == "overdue":
        notices = notices.filter(status__in=OPEN_NOTICE_STATUSES, due_at__lt=timezone.now())
    elif status in NoticeStatus.values:
        notices = notices.filter(status=status)
    basis = request.GET.get("basis", "")
    if basis in LegalBasis.values:
        notices = notices.filter(legal_basis=basis)
    platforms = platform_list_for(request.user).order_by("name")
    platform_id = query_id(request, "platform")
    platform = "" if platform_id is None else str(platform_id)
    if platform_id is not None:
        notices = notices.filter(platform_id=platform_id)
    context = {
        "page": paginate(request, notices),
        "now": timezone.now(),
        "status": status,
        "basis": basis,
        "platform": platform,
        "statuses": NoticeStatus.choices,
        "bases": LegalBasis.choices,
        "platforms": platforms,
    }
    return render(request, "cases/notice_list.html", context)


# --------------------------------------------------------------------------- create and edit


def _form(
    request: HtmxHttpRequest, findings: list[Any], data: Any = None, **kwargs: Any
) -> NoticeForm:
    user = request.user
    artist_ids = {a.pk for f in findings for a in f.artists.all()}
    references = reference_media_list_for(user)
    if artist_ids:
        references = references.filter(artist_id__in=artist_ids)
    evidence = (
        evidence_list_for(user)
        .filter(Q(finding__in=findings) | Q(capture__finding__in=findings))
        .filter(finding__in=findings)
    )
    choices = [(r.email, r.label) for r in abuse_recipients_for(user, {f.host for f in findings})]
    current = kwargs.pop("current_recipient", "")
    if current and current not in {email for email, _label in choices}:
        choices.append((current, current))  # chosen earlier; the lookup has changed since
    return NoticeForm(
        data,
        signers=signer_profile_list_for(user).order_by("full_name"),
        references=references,
        evidence=evidence.order_by("pk"),
        recipients=choices,
        **kwargs,
    )


def _service_fields(form: NoticeForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "legal_basis": data["legal_basis"],
        "language": data["language"],
        "channel": data["channel"],
        "recipient": data["recipient"],
        "signer": data["signer"],
        "explanation": data["explanation"],
        "original_work_description": data["original_work_description"],
        "include_explicit": data["include_explicit"],
        "csam_waiver": data["csam_waiver"],
    }


@member_required(read=Role.LEGAL)
def notice_create(request: HtmxHttpRequest) -> HttpResponse:
    """GET ?ids=1&ids=2 (the triage queue's "Create notice") shows the form; POST creates."""
    source = request.POST if request.method == "POST" else request.GET
    ids = parse_ids(" ".join(source.getlist("ids")))
    findings = list(finding_list_for(request.user).filter(pk__in=ids).order_by("pk"))
    if not findings:
        messages.error(request, _("Select the findings the notice is about first."))
        return redirect("finding_list")
    own_signer = signer_profile_list_for(request.user).filter(user=request.user).first()
    initial = {
        "language": NoticeLanguage.KO if request.LANGUAGE_CODE == "ko" else NoticeLanguage.EN,
        "signer": own_signer,
    }
    is_submit = request.method == "POST" and "legal_basis" in request.POST
    form = _form(request, findings, request.POST if is_submit else None, initial=initial)
    if is_submit and form.is_valid():
        try:
            notice = drafts.notice_create(
                agency=request.membership.agency,
                actor=request.user,
                findings=findings,
                reference_media=form.cleaned_data["reference_media"],
                attachments=form.cleaned_data["attachments"],
                **_service_fields(form),
            )
        except NoticeError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Draft notice #%(id)s created.") % {"id": notice.pk})
            return redirect(notice)
    return render(
        request, "cases/notice_form.html", {"form": form, "findings": findings, "notice": None}
    )


@member_required(read=Role.LEGAL)
def notice_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    notice = notice_get_for(request.user, pk)
    findings = list(notice.findings.order_by("pk"))
    if not notice.is_draft:
        messages.error(request, _("Only a draft can be edited; this notice was sent."))
        return redirect(notice)
    if request.method == "POST":
        form = _form(request, findings, request.POST, current_recipient=notice.recipient)
        if form.is_valid():
            try:
                drafts.notice_update(
                    notice=notice,
                    actor=request.user,
                    reference_media=form.cleaned_data["reference_media"],
                    attachments=form.cleaned_data["attachments"],
                    **_service_fields(form),
                )
            except NoticeError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Notice updated."))
                return redirect(notice)
    else:
        # The draft form edits every draft field but the assignee (it stays the creator).
        initial = {
            name: getattr(notice, name) for name in drafts.DRAFT_FIELDS if name != "assignee"
        }
        initial["reference_media"] = list(notice.reference_media.all())
        initial["attachments"] = list(notice.attachments.all())
        form = _form(request, findings, initial=initial, current_recipient=notice.recipient)
    return render(
        request, "cases/notice_form.html", {"form": form, "findings": findings, "notice": notice}
    )


# --------------------------------------------------------------------------- detail and actions


def _detail_context(request: HtmxHttpRequest, notice: Notice) -> dict[str, Any]:
    error = ""
    try:
        rendered = drafts.notice_render(notice)
        missing = drafts.notice_missing(notice, rendered) if notice.is_draft else []
    except NoticeError as exc:
        rendered, missing, error = None, [], str(exc)
    return {
        "notice": notice,
        "rendered": rendered,
        "missing": missing,
        "render_error": error,
        "findings": notice.findings.select_related("platform").order_by("pk"),
        "references": notice.reference_media.select_related("artist"),
        "attachments": drafts.notice_attachable(notice),
        "recipient": drafts.notice_recipient(notice),
        "status_form": NoticeStatusForm(),
        "submission_form": NoticeSubmissionForm(),
        "foreign_wording": drafts.notice_foreign_wording(notice, rendered) if rendered else [],
        "timeline": audit_events_for_object(request.user, notice).order_by("seq"),
        "overdue": notice.is_open and notice.due_at is not None and notice.due_at < timezone.now(),
    }


@require_GET
@member_required()
def notice_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    notice = notice_get_for(request.user, pk)
    return render(request, "cases/notice_detail.html", _detail_context(request, notice))


@require_POST
@member_required()
def notice_send(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    notice = notice_get_for(request.user, pk)
    try:
        notice = sending.notice_send(notice=notice, actor=request.user)
    except NoticeError as exc:
        messages.error(request, str(exc))
        return redirect(notice)
    if notice.is_awaiting_submission:
        messages.success(
            request,
            _(
                "The notice text is final but not sent: submit it with the checklist, then "
                "record the reference number the platform's form returns."
            ),
        )
        return redirect("notice_checklist", pk=notice.pk)
    messages.success(
        request, _("Notice sent to %(to)s.") % {"to": notice.recipient or notice.platform.name}
    )
    return redirect(notice)


@require_POST
@member_required()
def notice_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    notice = notice_get_for(request.user, pk)
    form = NoticeStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose what the platform did."))
        return redirect(notice)
    action = form.cleaned_data["action"]
    try:
        if action == "acknowledge":
            outcomes.notice_acknowledge(
                notice=notice,
                actor=request.user,
                platform_reference=form.cleaned_data["platform_reference"],
            )
        else:
            outcomes.notice_close(
                notice=notice, actor=request.user, outcome=action, note=form.cleaned_data["note"]
            )
    except NoticeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Notice updated."))
    return redirect(notice)


@require_GET
@member_required()
def notice_checklist(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The web-form checklist: the text to paste, the files to attach, where to record the
    reference number the form returns."""
    notice = notice_get_for(request.user, pk)
    context = _detail_context(request, notice)
    context["form_url"] = notice.platform.web_form_url
    return render(request, "cases/notice_checklist.html", context)


@require_POST
@member_required()
def notice_submission(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Record that the platform's web form was submitted: only now is the notice sent."""
    notice = notice_get_for(request.user, pk)
    form = NoticeSubmissionForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["confirmation"]
        try:
            sending.notice_record_submission(
                notice=notice,
                actor=request.user,
                platform_reference=form.cleaned_data["platform_reference"],
                submitted_at=form.cleaned_data["submitted_at"],
                confirmation=upload or None,
                confirmation_name=upload.name if upload else "",
            )
        except NoticeError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Submission recorded: the notice is sent."))
            return redirect(notice)
    context = _detail_context(request, notice)
    context["form_url"] = notice.platform.web_form_url
    context["submission_form"] = form
    return render(request, "cases/notice_checklist.html", context)


@require_GET
@member_required()
def notice_download(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The notice document (PDF, or HTML without WeasyPrint) to attach to a web form, or
    the plain text (?file=text)."""
    notice = notice_get_for(request.user, pk)
    try:
        rendered = drafts.notice_render(notice)
    except NoticeError as exc:
        # The notice page says the same next to the preview.
        messages.error(request, str(exc))
        return redirect("notice_detail", pk=notice.pk)
    if request.GET.get("file") == "text":
        name, data, media_type = (
            f"notice-{notice.pk}.txt",
            f"{rendered.subject}\n\n{rendered.body}".encode(),
            "text/plain; charset=utf-8",
        )
    else:
        name, data, media_type = sending.notice_document(notice, rendered)
    response = HttpResponse(data, content_type=media_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --------------------------------------------------------------------------- signers, templates


@member_required(read=Role.LEGAL)
def signer_profile(request: HtmxHttpRequest) -> HttpResponse:
    profile = signer_profile_list_for(request.user).filter(
        user=request.user
    ).first() or SignerProfile(agency=request.membership.agency, user=request.user)
    form = SignerProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        templates.signer_profile_save(
            agency=request.membership.agency,
            user=request.user,
            **{name: form.cleaned_data[name] for name in SignerProfileForm.Meta.fields},
        )
        messages.success(request, _("Signer profile saved."))
        return redirect("signer_profile")
    return render(request, "cases/notice_signer.html", {"form": form})


@require_GET
@member_required(read=Role.ADMIN, write=Role.ADMIN)
def notice_template_list(request: HtmxHttpRequest) -> HttpResponse:
    agency = request.membership.agency
    custom = set(agency.notice_templates.values_list("legal_basis", "language"))
    rows = [
        (value, label, language, language_label, (value, language) in custom)
        for value, label in LegalBasis.choices
        for language, language_label in NoticeLanguage.choices
    ]
    return render(request, "cases/notice_template_list.html", {"rows": rows})


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def notice_template_edit(request: HtmxHttpRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    basis, language = source.get("basis", ""), source.get("language", "")
    if basis not in LegalBasis.values or language not in NoticeLanguage.values:
        return redirect("notice_template_list")
    agency = request.membership.agency
    if request.method == "POST" and request.POST.get("reset"):
        templates.notice_template_reset(
            agency=agency, legal_basis=basis, language=language, actor=request.user
        )
        messages.success(request, _("The default wording is back."))
        return redirect("notice_template_list")
    subject, body = templates.notice_template_source(
        agency=agency, legal_basis=basis, language=language
    )
    form = NoticeTemplateForm(
        request.POST if request.method == "POST" else None,
        initial={"subject": subject, "body": body},
    )
    if request.method == "POST" and form.is_valid():
        try:
            templates.notice_template_save(
                agency=agency,
                legal_basis=basis,
                language=language,
                actor=request.user,
                **form.cleaned_data,
            )
        except NoticeError as exc:
            form.add_error("body", str(exc))
        else:
            messages.success(request, _("Template saved."))
            return redirect("notice_template_list")
    context = {
        "form": form,
        "basis": basis,
        "basis_label": LegalBasis(basis).label,
        "language": language,
        "language_label": NoticeLanguage(language).label,
        "default_subject": default_template(basis, language)[0],
        "basis_statements": ", ".join(f"statements.{key}" for key in STATEMENT_KEYS[basis]),
        "foreign_statements": [f"statements.{k}" for k in template_foreign_statements(basis, body)],
        "foreign_wording": [
            label for _phrase, label in foreign_wording(basis, language, f"{subject}\n{body}")
        ],
    }
    return render(request, "cases/notice_template_form.html", context)


# --------------------------------------------------------------------------- webhooks


@require_GET
@member_required(read=Role.ADMIN, write=Role.ADMIN)
def webhook_list(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "webhooks": webhook_list_for(request.user),
        "deliveries": webhook_deliveries_for(request.user).order_by("-created_at", "-id")[:50],
    }
    return render(request, "cases/notice_webhooks.html", context)


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def webhook_create(request: HtmxHttpRequest) -> HttpResponse:
    return _webhook_form(request, None)


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def webhook_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _webhook_form(request, get_or_404(webhook_list_for(request.user), pk=pk))


def _webhook_form(request: HtmxHttpRequest, webhook: Any) -> HttpResponse:
    initial = (
        {"url": webhook.url, "events": webhook.events, "active": webhook.active}
        if webhook
        else {"active": True}
    )
    form = WebhookForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = webhook_save(
                agency=request.membership.agency,
                actor=request.user,
                url=data["url"],
                events=data["events"],
                active=data["active"],
                webhook=webhook,
            )
        except WebhookError as exc:
            form.add_error("url", str(exc))
        else:
            if webhook is not None and data["rotate_secret"]:
                webhook_rotate_secret(webhook=saved, actor=request.user)
            messages.success(request, _("Webhook saved."))
            return redirect("webhook_list")
    return render(request, "cases/notice_webhook_form.html", {"form": form, "webhook": webhook})
