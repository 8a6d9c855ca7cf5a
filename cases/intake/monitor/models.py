"""Watched sources and what their polls discovered."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.intake.models import Finding
from cases.kernel.models import Agency


class WatchedSourceKind(models.TextChoices):
    FEED = "feed", _("RSS or Atom feed")
    SITEMAP = "sitemap", _("XML sitemap")
    HTML = "html", _("HTML listing page")
    TELEGRAM = "telegram", _("Telegram channel preview")
    JSON = "json", _("JSON listing")
    TEMPLATE = "template", _("Search URL per artist alias")


class WatchedSourceState(models.TextChoices):
    NEW = "new", _("Not polled yet")
    OK = "ok", _("OK")
    FAILING = "failing", _("Failing")


class WatchedSource(models.Model):
    """One place an agency polls for new copies. Polled through the safe fetcher with
    conditional requests; an error backs the next poll off exponentially and shows here."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="watched_sources")
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=WatchedSourceKind.choices)
    # For a template, the URL holds "{alias}", filled with each artist name (URL-encoded).
    url = models.TextField(_("URL"))
    # HTML listings and templates: the CSS selector of the links to the posts.
    selector = models.CharField(_("link selector"), max_length=300, blank=True)
    # JSON listings: where the items are ("data.children.*.data") and which keys of an item
    # hold its URL and its text.
    json_items_path = models.CharField(_("items path"), max_length=200, blank=True)
    json_url_key = models.CharField(_("URL key"), max_length=100, blank=True)
    json_text_keys = models.CharField(_("text keys"), max_length=200, blank=True)
    interval_minutes = models.PositiveIntegerField(_("poll every (minutes)"), default=60)
    active = models.BooleanField(_("active"), default=True)
    # A new finding whose media match closely (Recognition.strong) gets a capture request.
    capture_strong_matches = models.BooleanField(_("capture strong matches"), default=False)
    # The server's name and port: the per-host interval and concurrency cap count by it.
    host = models.CharField(max_length=300, editable=False)
    # {url: {"etag": ..., "last_modified": ...}} as the server last sent them.
    validators = models.JSONField(default=dict, blank=True, editable=False)
    # Keys (SHA-256 prefixes) of the items already processed, oldest first, bounded
    # (MONITOR_SEEN_MAX): an item is recognised once.
    seen_keys = models.JSONField(default=list, blank=True, editable=False)
    state = models.CharField(
        _("state"),
        max_length=10,
        choices=WatchedSourceState.choices,
        default=WatchedSourceState.NEW,
        editable=False,
    )
    last_result = models.CharField(_("last result"), max_length=300, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    consecutive_errors = models.PositiveIntegerField(default=0, editable=False)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True, editable=False)
    next_due_at = models.DateTimeField(_("next poll due"), null=True, blank=True, editable=False)
    # A template's rotation: the first of the names filled in at the next poll.
    template_cursor = models.PositiveIntegerField(default=0, editable=False)
    # Set while a worker polls it; a poll older than MONITOR_POLL_LEASE_S is taken as lost.
    polling_since = models.DateTimeField(null=True, blank=True, editable=False)
    items_seen = models.PositiveIntegerField(_("items seen"), default=0, editable=False)
    candidates = models.PositiveIntegerField(_("candidates"), default=0, editable=False)
    findings_created = models.PositiveIntegerField(_("findings"), default=0, editable=False)
    errors_total = models.PositiveIntegerField(_("errors"), default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="watched_source_unique_name"),
            models.CheckConstraint(
                condition=models.Q(interval_minutes__gte=1), name="watched_source_interval_min"
            ),
        ]
        indexes = [
            models.Index(fields=["active", "next_due_at"], name="watched_source_due"),
            models.Index(fields=["host"], name="watched_source_host"),
        ]

    def __str__(self) -> str:
        return self.name


class Discovery(models.Model):
    """One recognised item of a watched source and the finding it became (new or already
    recorded), with the reason it was recognised."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="discoveries")
    # Kept when the source is deleted: the finding still says why it was discovered.
    source = models.ForeignKey(
        WatchedSource, on_delete=models.SET_NULL, null=True, related_name="discoveries"
    )
    source_name = models.CharField(max_length=120)
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="discoveries")
    item_url = models.TextField()
    reason = models.TextField()
    excerpt = models.TextField(blank=True)
    media_urls = models.JSONField(default=list, blank=True)
    # False when the URL was already recorded (by a person or another source).
    created_finding = models.BooleanField(default=False)
    # A close media match (docs/monitor.md, "Capture of strong matches"), and whether the
    # poll asked for a capture of the new finding because of it (the source's switch).
    strong_match = models.BooleanField(default=False)
    capture_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "finding"], name="discovery_unique_per_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_name}: {self.reason}"
