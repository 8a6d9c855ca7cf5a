"""Takedown notices, their templates and signers, and the partner webhooks told about them.

A Notice covers findings on one platform under one legal basis. While it is a draft it is
rendered live from the agency's template; when it is sent, the rendered subject and body
are stored exactly as sent with their SHA-256 and never change again (see Notice.save)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cases.agency.models import Platform
from cases.evidence.models import Capture, Evidence
from cases.intake.models import Finding
from cases.kernel.models import Agency
from cases.matching.models import ReferenceMedia


class LegalBasis(models.TextChoices):
    DMCA_512C3 = "dmca_512c3", _("US DMCA § 512(c)(3)")
    EU_DSA_16 = "eu_dsa_16", _("EU DSA Art. 16")
    KR_NETWORK_ACT_44_2 = "kr_network_act_44_2", _("Korean Network Act Art. 44-2")
    TAKE_IT_DOWN = "take_it_down", _("US TAKE IT DOWN Act")
    KCSC = "kcsc", _("KCSC correction request")
    PLATFORM_POLICY = "platform_policy", _("Platform policy report")


class NoticeLanguage(models.TextChoices):
    EN = "en", _("English")
    KO = "ko", _("Korean")


class NoticeStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    # A web-form notice whose text is final but that nobody has submitted yet: it is not
    # sent until a person records the submission with the platform's reference number.
    AWAITING_SUBMISSION = "awaiting_submission", _("Ready, awaiting submission")
    SENT = "sent", _("Sent")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    ACTIONED = "actioned", _("Actioned")
    REJECTED = "rejected", _("Rejected")
    NO_RESPONSE = "no_response", _("No response")


# The text is fixed from these statuses on (see Notice.save).
UNSENT_NOTICE_STATUSES = (NoticeStatus.DRAFT, NoticeStatus.AWAITING_SUBMISSION)
# Still waiting for the platform: these count towards deadlines and reminders.
OPEN_NOTICE_STATUSES = (NoticeStatus.SENT, NoticeStatus.ACKNOWLEDGED)
CLOSED_NOTICE_STATUSES = (NoticeStatus.ACTIONED, NoticeStatus.REJECTED, NoticeStatus.NO_RESPONSE)


STATUS_BADGES: dict[str, str] = {
    NoticeStatus.DRAFT: "status-dismissed",
    NoticeStatus.AWAITING_SUBMISSION: "status-new",
    NoticeStatus.SENT: "status-notice_sent",
    NoticeStatus.ACKNOWLEDGED: "status-triaged",
    NoticeStatus.ACTIONED: "status-removed",
    NoticeStatus.REJECTED: "status-reappeared",
    NoticeStatus.NO_RESPONSE: "status-reappeared",
}


class NoticeChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    WEB_FORM = "web_form", _("Web form")
    TRUSTED_FLAGGER = "trusted_flagger", _("Trusted flagger channel")


class SignerProfile(models.Model):
    """A person authorised to sign notices for the agency. The signature block, contact
    details and the sworn statements of every notice they sign come from here."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="signer_profiles")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signer_profiles"
    )
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    postal_address = models.TextField(_("postal address"), blank=True)
    phone = models.CharField(_("telephone"), max_length=60, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    signature_text = models.CharField(
        _("electronic signature"),
        max_length=200,
        blank=True,
        help_text=_("Typed as it should appear, e.g. /Kim Minji/."),
    )
    # Empty: the standard wording for the notice's language (cases.notices.bases.STATEMENTS).
    good_faith_statement = models.TextField(_("good-faith statement (override)"), blank=True)
    accuracy_statement = models.TextField(_("accuracy statement (override)"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["full_name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "user"], name="signer_one_per_user")
        ]

    def __str__(self) -> str:
        return self.full_name or str(self.user)


class NoticeTemplate(models.Model):
    """An agency's wording for one legal basis and language (Django template syntax).
    Without a row the default shipped in cases.notices.bases is used."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="notice_templates")
    legal_basis = models.CharField(_("legal basis"), max_length=24, choices=LegalBasis.choices)
    language = models.CharField(_("language"), max_length=2, choices=NoticeLanguage.choices)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["legal_basis", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "legal_basis", "language"], name="notice_template_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.legal_basis}/{self.language}"


# Fixed when the notice leaves: what the hash proves must never change afterwards.
IMMUTABLE_AFTER_SEND = ("rendered_subject", "rendered_body", "rendered_sha256", "message_id")


class Notice(models.Model):
    """A takedown notice for findings on one platform under one legal basis."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="notices")
    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="notices")
    legal_basis = models.CharField(_("legal basis"), max_length=24, choices=LegalBasis.choices)
    language = models.CharField(
        _("language"), max_length=2, choices=NoticeLanguage.choices, default=NoticeLanguage.EN
    )
    channel = models.CharField(
        _("channel"), max_length=20, choices=NoticeChannel.choices, default=NoticeChannel.EMAIL
    )
    status = models.CharField(
        _("status"), max_length=20, choices=NoticeStatus.choices, default=NoticeStatus.DRAFT
    )
    findings = models.ManyToManyField(Finding, related_name="notices")
    reference_media = models.ManyToManyField(ReferenceMedia, related_name="notices", blank=True)
    original_work_description = models.TextField(_("original work"), blank=True)
    explanation = models.TextField(_("explanation / supporting evidence"), blank=True)
    # DSA Art. 16(2)(c): the notifier's name and e-mail may be left out for notices about
    # child sexual abuse offences.
    csam_waiver = models.BooleanField(_("child sexual abuse material (name waiver)"), default=False)
    signer = models.ForeignKey(
        SignerProfile, on_delete=models.PROTECT, null=True, blank=True, related_name="notices"
    )
    # Evidence excerpts to attach; explicit media only when include_explicit was ticked.
    attachments = models.ManyToManyField(Evidence, related_name="notices", blank=True)
    include_explicit = models.BooleanField(_("attach explicit media"), default=False)
    recipient = models.EmailField(_("sent to"), blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_notices",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    # When the text became final: the moment of sending for e-mail, of "Finalise for web
    # form" for a web form (sent_at is then the submission time a person recorded).
    finalised_at = models.DateTimeField(_("text final"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    # The platform's confirmation page or e-mail, uploaded when the submission was recorded.
    submission_confirmation = models.ForeignKey(
        Evidence,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("submission confirmation"),
    )
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    platform_reference = models.CharField(_("platform reference"), max_length=200, blank=True)
    outcome_note = models.TextField(_("outcome note"), blank=True)
    proof_capture = models.ForeignKey(
        Capture, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rendered_subject = models.CharField(max_length=300, blank=True)
    rendered_body = models.TextField(blank=True)
    rendered_sha256 = models.CharField(max_length=64, blank=True)
    message_id = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="draft") | ~models.Q(rendered_sha256=""),
                name="notice_sent_has_hash",
            ),
            # Nothing counts as sent without the moment it was sent (or submitted).
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "awaiting_submission"])
                | models.Q(sent_at__isnull=False),
                name="notice_sent_has_sent_at",
            ),
            # Not sent: no sending time, no deadline.
            models.CheckConstraint(
                condition=~models.Q(status="awaiting_submission")
                | models.Q(sent_at__isnull=True, due_at__isnull=True),
                name="notice_awaiting_not_sent",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "status", "due_at"], name="notice_agency_status_due"),
            models.Index(fields=["agency", "-created_at"], name="notice_agency_recent"),
        ]

    def __str__(self) -> str:
        return f"Notice #{self.pk} ({self.legal_basis}, {self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            stored = (
                Notice.objects.filter(pk=self.pk).values("status", *IMMUTABLE_AFTER_SEND).first()
            )
            if stored and stored["status"] != NoticeStatus.DRAFT:
                for name in IMMUTABLE_AFTER_SEND:
                    if getattr(self, name) != stored[name]:
                        raise RuntimeError(f"Notice.{name} is fixed once the notice is sent")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("notice_detail", args=[self.pk])

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.status != NoticeStatus.DRAFT:
            raise RuntimeError("A sent notice is never deleted")
        return super().delete(*args, **kwargs)

    @property
    def is_draft(self) -> bool:
        return self.status == NoticeStatus.DRAFT

    @property
    def is_awaiting_submission(self) -> bool:
        return self.status == NoticeStatus.AWAITING_SUBMISSION

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_NOTICE_STATUSES

    @property
    def badge(self) -> str:
        """The CSS badge class of the status (shared with finding statuses)."""
        return STATUS_BADGES[self.status]


class WebhookEvent(models.TextChoices):
    NOTICE_SENT = "notice.sent", _("Notice sent")
    NOTICE_ACKNOWLEDGED = "notice.acknowledged", _("Notice acknowledged")
    NOTICE_ACTIONED = "notice.actioned", _("Notice actioned")
    NOTICE_REJECTED = "notice.rejected", _("Notice rejected")
    NOTICE_NO_RESPONSE = "notice.no_response", _("Notice without response")


class Webhook(models.Model):
    """A partner endpoint told about notice status changes, signed with HMAC-SHA256."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="webhooks")
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("secret"), max_length=128)
    events = models.JSONField(_("events"), default=list)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url", "id"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one webhook: the exact body (signed as is) and every attempt."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # One entry per attempt: [ISO time, HTTP status or null, error text].
    attempt_log = models.JSONField(default=list, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook_id} ({self.status})"
