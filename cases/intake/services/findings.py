"""Writes on findings: record (deduplicated), status changes, edits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.agency.models import Artist
from cases.agency.services.abuse_lookups import abuse_lookup_request
from cases.agency.services.platforms import PlatformIndex
from cases.intake.canonical import canonical_hash, canonicalize_url, host_of
from cases.intake.models import Finding, FindingSource, FindingStatus
from cases.intake.services.url_rules import platform_index_for, url_rules
from cases.intake.signals import finding_removed
from cases.kernel.actor import Actor, actor_user
from cases.kernel.audit.services import AuditEntry, audit_record, audit_record_many
from cases.kernel.models import Agency

# Which status may follow which. `reappeared` re-enters the lifecycle; `dismissed` can be
# undone by triage. Everything else moves forward only.
TRANSITIONS: dict[str, frozenset[str]] = {
    FindingStatus.NEW: frozenset({"triaged", "captured", "dismissed"}),
    FindingStatus.TRIAGED: frozenset({"captured", "notice_sent", "dismissed", "new"}),
    FindingStatus.CAPTURED: frozenset({"notice_sent", "removed", "dismissed"}),
    FindingStatus.NOTICE_SENT: frozenset({"removed", "reappeared"}),
    FindingStatus.REMOVED: frozenset({"reappeared"}),
    FindingStatus.REAPPEARED: frozenset({"captured", "notice_sent", "removed", "dismissed"}),
    FindingStatus.DISMISSED: frozenset({"triaged", "new"}),
}
STATUS_TIMESTAMP: dict[str, str] = {
    FindingStatus.TRIAGED: "triaged_at",
    FindingStatus.CAPTURED: "captured_at",
    FindingStatus.NOTICE_SENT: "notice_sent_at",
    FindingStatus.REMOVED: "removed_at",
    FindingStatus.REAPPEARED: "reappeared_at",
    FindingStatus.DISMISSED: "dismissed_at",
}


class StatusChangeError(ValueError):
    """A status change the lifecycle does not allow; the message is for the user."""


def finding_record(
    *,
    agency: Agency,
    url: str,
    actor: Actor,
    source: str = FindingSource.STAFF,
    artists: Iterable[Artist] = (),
    notes: str = "",
    platforms: PlatformIndex | None = None,
) -> tuple[Finding, bool]:
    """Record a URL for the agency. Returns (finding, created); a URL whose canonical form is
    already recorded returns the existing finding. Raises InvalidURL with a reason.

    `platforms`, the agency's platform index when the caller already built it (it holds the
    share parameters the URL is canonicalised with); another agency's is ignored."""
    platforms = platform_index_for(agency, platforms)
    canonical = canonicalize_url(url, url_rules(platforms))
    key = canonical_hash(canonical)
    existing = Finding.objects.filter(agency=agency, canonical_hash=key).first()
    if existing is not None:
        return existing, False
    host = host_of(canonical)
    try:
        with transaction.atomic():
            finding = Finding.objects.create(
                agency=agency,
                url=url.strip(),
                canonical_url=canonical,
                canonical_hash=key,
                host=host,
                platform=platforms.lookup(host),
                source=source,
                notes=notes,
                created_by=actor_user(actor),
            )
            artist_list = [a for a in artists if a.agency_id == agency.pk]
            finding.artists.set(artist_list)
            audit_record(
                agency=agency,
                actor=actor,
                action="finding.recorded",
                obj=finding,
                data={"url": canonical, "source": source, "artists": [a.pk for a in artist_list]},
            )
            if settings.RDAP_LOOKUP_ON_RECORD:
                # Who can remove it: the host's abuse contacts, looked up by a worker
                # unless a recent lookup of the host is cached.
                abuse_lookup_request(agency=agency, host=host, actor=actor)
    except IntegrityError:
        # Someone recorded the same URL between our lookup and insert: theirs wins.
        return Finding.objects.get(agency=agency, canonical_hash=key), False
    return finding, True


def _apply_status(finding: Finding, status: str, reason: str, now: datetime) -> list[str]:
    if status == finding.status:
        raise StatusChangeError(
            _("The finding is already %(status)s.") % {"status": finding.get_status_display()}
        )
    if status not in TRANSITIONS.get(finding.status, frozenset()):
        raise StatusChangeError(
            _("A finding cannot move from %(old)s to %(new)s.")
            % {"old": finding.get_status_display(), "new": FindingStatus(status).label}
        )
    if status == FindingStatus.DISMISSED and not reason.strip():
        raise StatusChangeError(_("Dismissing a finding needs a reason."))
    finding.status = status
    fields = ["status", "updated_at"]
    if status == FindingStatus.DISMISSED:
        finding.dismissed_reason = reason.strip()[:500]
        fields.append("dismissed_reason")
    if status in STATUS_TIMESTAMP:
        setattr(finding, STATUS_TIMESTAMP[status], now)
        fields.append(STATUS_TIMESTAMP[status])
    return fields


def finding_set_status(*, finding: Finding, status: str, actor: Actor, reason: str = "") -> Finding:
    """Move one finding along its lifecycle, with an audit event in the same transaction."""
    with transaction.atomic():
        finding = Finding.objects.select_for_update().get(pk=finding.pk)
        old = finding.status
        fields = _apply_status(finding, status, reason, timezone.now())
        finding.save(update_fields=fields)
        audit_record(
            agency=finding.agency,
            actor=actor,
            action="finding.status_changed",
            obj=finding,
            data={"from": old, "to": status, "reason": reason.strip()},
        )
        _close_notices_if_removed([finding], status)
    return finding


def _close_notices_if_removed(findings: Sequence[Finding], status: str) -> None:
    """A removed finding's open notices close as actioned (a hook: notices listen, see
    cases/wiring.py)."""
    if status != FindingStatus.REMOVED:
        return
    for finding in findings:
        finding_removed.send(sender=Finding, finding=finding, capture=None)


def finding_bulk_set_status(
    *, findings: Sequence[Finding], status: str, actor: Actor, reason: str = ""
) -> tuple[int, list[tuple[Finding, str]]]:
    """Apply one status to many findings of one agency: all allowed ones change in one
    transaction (bulk update + one audit batch); the rest come back with the reason."""
    if not findings:
        return 0, []
    agency = findings[0].agency
    now = timezone.now()
    changed: list[Finding] = []
    refused: list[tuple[Finding, str]] = []
    entries: list[AuditEntry] = []
    with transaction.atomic():
        locked = Finding.objects.select_for_update().filter(
            agency=agency, pk__in=[f.pk for f in findings]
        )
        for finding in locked:
            old = finding.status
            try:
                _apply_status(finding, status, reason, now)
            except StatusChangeError as exc:
                refused.append((finding, str(exc)))
                continue
            finding.updated_at = now
            changed.append(finding)
            entries.append(
                AuditEntry(
                    action="finding.status_changed",
                    obj=finding,
                    data={"from": old, "to": status, "reason": reason.strip(), "bulk": True},
                )
            )
        fields = ["status", "updated_at", "dismissed_reason"]
        if status in STATUS_TIMESTAMP:
            fields.append(STATUS_TIMESTAMP[status])
        Finding.objects.bulk_update(changed, fields, batch_size=1000)
        audit_record_many(agency=agency, actor=actor, entries=entries, at=now)
        _close_notices_if_removed(changed, status)
    return len(changed), refused


def finding_update(
    *,
    finding: Finding,
    actor: Actor,
    artists: Iterable[Artist] | None = None,
    assignee: User | bool | None = False,
    notes: str | None = None,
) -> Finding:
    """Change a finding's artists, assignee or notes (False / None mean "leave as is")."""
    changes: dict[str, object] = {}
    with transaction.atomic():
        if artists is not None:
            artist_list = [a for a in artists if a.agency_id == finding.agency_id]
            finding.artists.set(artist_list)
            changes["artists"] = sorted(a.pk for a in artist_list)
        if assignee is not False:
            finding.assignee = assignee or None  # type: ignore[assignment]
            changes["assignee"] = finding.assignee.get_username() if finding.assignee else None
        if notes is not None and notes != finding.notes:
            finding.notes = notes
            changes["notes"] = True
        finding.save()
        if changes:
            audit_record(
                agency=finding.agency,
                actor=actor,
                action="finding.updated",
                obj=finding,
                data=changes,
            )
    return finding


def finding_platform_refresh(*, finding: Finding, final_url: str, actor: Actor = None) -> Finding:
    """Attach the finding to the platform that actually serves it: the host of the capture's
    final URL after redirects (CDN hosts map to their customer platform). Unknown hosts
    leave the platform as it is."""
    host = host_of(final_url) if final_url else ""
    if not host:
        return finding
    platform = PlatformIndex.for_agency(finding.agency).lookup(host)
    if platform is None or platform.pk == finding.platform_id:
        return finding
    with transaction.atomic():
        old = finding.platform.name if finding.platform is not None else None
        Finding.objects.filter(pk=finding.pk).update(platform=platform)
        finding.platform = platform
        audit_record(
            agency=finding.agency,
            actor=actor,
            action="finding.platform_changed",
            obj=finding,
            data={"from": old, "to": platform.name, "final_url": final_url},
        )
    return finding
