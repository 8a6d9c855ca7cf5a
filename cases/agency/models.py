"""The agency's directory: artists and groups on its roster, and the platforms it sends
notices to."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.agency.rdap.cdn import Cdn, cdn_get
from cases.kernel.models import Agency


class Group(models.Model):
    """A group of artists (a K-pop group, a unit)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(_("name"), max_length=120)
    name_hangul = models.CharField(_("name (Hangul)"), max_length=120, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="group_unique_name_per_agency")
        ]

    def __str__(self) -> str:
        return self.name


class Artist(models.Model):
    """An artist the agency protects. `legal_name` is sensitive: admins and legal only."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="artists")
    stage_name = models.CharField(_("stage name"), max_length=120)
    name_hangul = models.CharField(_("name (Hangul)"), max_length=120, blank=True)
    name_latin = models.CharField(_("name (Latin)"), max_length=120, blank=True)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    aliases = models.JSONField(_("aliases"), default=list, blank=True)
    groups = models.ManyToManyField(Group, related_name="artists", blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stage_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "stage_name"], name="artist_unique_stage_name_per_agency"
            )
        ]

    def __str__(self) -> str:
        if self.name_hangul:
            return f"{self.stage_name} ({self.name_hangul})"
        return self.stage_name


class ArtistShareConsent(models.Model):
    """The artist's consent to share the hashes of their confirmed fakes with partner
    agencies (the exchange bank, cases.matching.services.bank). One row per grant: recorded
    by an admin, later withdrawn (the row stays, as the record of what was shared when). At
    most one grant of an artist is in force (withdrawn_at empty)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE, related_name="share_consents")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    recorded_at = models.DateTimeField(_("consent recorded at"), default=timezone.now)
    note = models.CharField(_("how consent was given"), max_length=500, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(_("consent withdrawn at"), null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["artist"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="share_consent_one_in_force",
            )
        ]

    def __str__(self) -> str:
        state = "withdrawn" if self.withdrawn_at else "in force"
        return f"share consent of artist {self.artist_id} ({state})"


class Platform(models.Model):
    """A host or service where findings live. Seeded per agency from cases/agency/seeds.py
    and editable by the agency's admins (contacts differ per agency: trusted-flagger lanes)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        WEB_FORM = "web_form", _("Web form")
        TRUSTED_FLAGGER = "trusted_flagger", _("Trusted flagger channel")

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="platforms")
    name = models.CharField(_("name"), max_length=120)
    domains = models.JSONField(_("domains"), default=list, help_text=_("Hosts, one per line."))
    abuse_email = models.EmailField(_("abuse e-mail"), blank=True)
    web_form_url = models.URLField(_("web form URL"), blank=True, max_length=500)
    channel = models.CharField(
        _("notice channel"), max_length=20, choices=Channel.choices, default=Channel.WEB_FORM
    )
    trusted_flagger_email = models.EmailField(_("trusted-flagger e-mail"), blank=True)
    languages = models.JSONField(
        _("notice languages"), default=list, blank=True, help_text=_("e.g. en, ko")
    )
    # CDN hosts that serve this platform's content (its customer mapping): a finding on one
    # of them belongs to this platform.
    cdn_domains = models.JSONField(_("CDN hosts"), default=list, blank=True)
    # Query parameters this platform's share buttons and apps add to a link (TikTok's
    # is_from_webapp, YouTube's si): stripped from its URLs before deduplication, on top of
    # the global tracking parameters (cases.intake.canonical). Lower-case names.
    share_params = models.JSONField(
        _("share parameters"),
        default=list,
        blank=True,
        help_text=_("Query parameters that never change the content, one per line."),
    )
    # Overrides the legal basis's default response time (cases.notices.bases) when set.
    notice_due_hours = models.PositiveIntegerField(
        _("notice deadline (hours)"), null=True, blank=True
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "name"], name="platform_unique_name_per_agency"
            )
        ]

    def __str__(self) -> str:
        return self.name


class AbuseLookupState(models.TextChoices):
    """Where one half of an abuse-contact lookup stands (cases.agency.rdap.client)."""

    PENDING = "pending", _("Not looked up yet")
    FOUND = "found", _("Abuse contact found")
    NO_CONTACT = "no_contact", _("No abuse contact published")
    FAILED = "failed", _("Lookup failed")
    NOT_APPLICABLE = "not_applicable", _("Does not apply")


class AbuseLookup(models.Model):
    """Who can remove what a host serves: its domain's registrar abuse contact and its
    hosting network's abuse contact, as RDAP gave them on `looked_up_at`. A cache per
    agency and host, looked up again (in a worker) once older than RDAP_LOOKUP_MAX_AGE."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="abuse_lookups")
    host = models.CharField(_("host"), max_length=255)
    requested_at = models.DateTimeField(null=True, blank=True)
    looked_up_at = models.DateTimeField(_("looked up"), null=True, blank=True)

    registrar_state = models.CharField(
        max_length=20, choices=AbuseLookupState.choices, default=AbuseLookupState.PENDING
    )
    registrar_name = models.CharField(max_length=255, blank=True)
    registrar_handle = models.CharField(max_length=100, blank=True)
    registrar_email = models.CharField(max_length=254, blank=True)
    registrar_phone = models.CharField(max_length=64, blank=True)
    registrar_source = models.CharField(max_length=500, blank=True)
    registrar_error = models.TextField(blank=True)

    network_state = models.CharField(
        max_length=20, choices=AbuseLookupState.choices, default=AbuseLookupState.PENDING
    )
    network_address = models.CharField(max_length=45, blank=True)
    network_name = models.CharField(max_length=255, blank=True)
    network_handle = models.CharField(max_length=100, blank=True)
    network_email = models.CharField(max_length=254, blank=True)
    network_phone = models.CharField(max_length=64, blank=True)
    network_source = models.CharField(max_length=500, blank=True)
    network_error = models.TextField(blank=True)
    # The CDN the network belongs to (a key of cases.agency.rdap.cdn.CDNS), "" for none.
    cdn = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["host"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "host"], name="abuse_lookup_unique_host")
        ]

    def __str__(self) -> str:
        return self.host

    @property
    def cdn_entry(self) -> Cdn | None:
        """The CDN fronting the host, with its abuse process (None when not fronted)."""
        return cdn_get(self.cdn) if self.cdn else None
