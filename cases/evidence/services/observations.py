"""A finding's status after what its captures observed: removal and reappearance need two
agreeing observations at least CAPTURE_REMOVAL_CONFIRM_MINUTES apart.

One 404 can be a platform's hiccup, a deploy, a CDN node without the object; one 200 can
be a cached copy. So a removal observation only *starts* a removal: the finding keeps its
status, and a confirming re-check is scheduled (Finding.recheck_due_at, picked up by the
re-check beat ahead of the status's usual interval). A second removal observation at
least N minutes after the first, with no live observation in between, moves the finding
to Removed (which closes its notices). The same holds in reverse for Removed → Reappeared.

Unreachable and refused visits (cases.evidence.capture.observation) say nothing about the content:
they never move a finding, never cancel or confirm a pending change, and only push the
confirming re-check back by N minutes when it was the confirming visit that failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.evidence.models import Capture, CaptureObservation
from cases.intake.models import Finding, FindingStatus
from cases.intake.services.findings import finding_set_status
from cases.kernel.audit.services import audit_record
from cases.kernel.times import when_evidence

# Statuses a confirmed removal moves a finding to "removed" from.
REMOVABLE = (FindingStatus.CAPTURED, FindingStatus.NOTICE_SENT, FindingStatus.REAPPEARED)
DECISIVE = (CaptureObservation.LIVE, CaptureObservation.REMOVED)


def confirm_interval() -> timedelta:
    return timedelta(minutes=settings.CAPTURE_REMOVAL_CONFIRM_MINUTES)


def _target(finding: Finding, observation: str) -> str | None:
    """The status this observation argues for, when it differs from the finding's."""
    if observation == CaptureObservation.REMOVED and finding.status in REMOVABLE:
        return FindingStatus.REMOVED
    if observation == CaptureObservation.LIVE and finding.status == FindingStatus.REMOVED:
        return FindingStatus.REAPPEARED
    return None


def _first_of_run(finding: Finding, observation: str) -> Capture | None:
    """The earliest observation of the finding's current run of `observation`: after the
    latest observation of the opposite kind (and, for a return online, after the removal)."""
    opposite = (
        CaptureObservation.LIVE
        if observation == CaptureObservation.REMOVED
        else CaptureObservation.REMOVED
    )
    observed = Capture.objects.filter(finding=finding, observed_at__isnull=False)
    run = observed.filter(observation=observation)
    last_opposite = (
        observed.filter(observation=opposite)
        .order_by("-observed_at", "-id")
        .values_list("observed_at", flat=True)
        .first()
    )
    if last_opposite is not None:
        run = run.filter(observed_at__gt=last_opposite)
    if observation == CaptureObservation.LIVE and finding.removed_at is not None:
        run = run.filter(observed_at__gte=finding.removed_at)
    return run.order_by("observed_at", "id").first()


def _set_due(finding: Finding, due: datetime | None) -> None:
    if finding.recheck_due_at != due:
        Finding.objects.filter(pk=finding.pk).update(recheck_due_at=due)
        finding.recheck_due_at = due


def finding_observe(*, capture: Capture) -> tuple[Finding, str | None]:
    """Apply one finished capture's observation to its finding; returns the (locked,
    refreshed) finding and the status it moved to, if any. Runs inside the capture's
    recording transaction, so the status, the audit events and the capture land together."""
    finding = (
        Finding.objects.select_for_update().select_related("agency").get(pk=capture.finding_id)
    )
    observation = capture.observation
    now = timezone.now()
    if observation not in DECISIVE or capture.observed_at is None:
        # Nothing learnt about the content. A confirming re-check that could not see the
        # page is tried again later rather than at every beat.
        if finding.recheck_due_at is not None and finding.recheck_due_at <= now:
            _set_due(finding, now + confirm_interval())
        return finding, None

    target = _target(finding, observation)
    if target is None:
        if finding.recheck_due_at is not None:
            # The content is as the status says after all: the pending change is void.
            audit_record(
                agency=finding.agency,
                actor=capture.collector,
                action="finding.change_unconfirmed",
                obj=finding,
                data={"capture": capture.pk, "observation": observation, "status": finding.status},
            )
            _set_due(finding, None)
        return finding, None

    # This capture belongs to the run, so the run is never empty.
    first = _first_of_run(finding, observation) or capture
    confirm_at = (first.observed_at or capture.observed_at) + confirm_interval()
    if first.pk == capture.pk or capture.observed_at < confirm_at:
        if first.pk == capture.pk:
            audit_record(
                agency=finding.agency,
                actor=capture.collector,
                action=(
                    "finding.removal_observed"
                    if target == FindingStatus.REMOVED
                    else "finding.return_observed"
                ),
                obj=finding,
                data={
                    "capture": capture.pk,
                    "reason": capture.observation_reason,
                    "confirm_after": confirm_at.isoformat(),
                },
            )
        _set_due(finding, max(confirm_at, now))
        return finding, None

    values = {
        "label": _("Re-check") if capture.is_recheck else _("Capture"),
        "id": capture.pk,
        "first": first.pk,
        "at": when_evidence(first.observed_at or capture.observed_at),
        "why": capture.observation_reason,
    }
    if target == FindingStatus.REMOVED:
        reason = (
            _(
                "%(label)s #%(id)s confirmed the removal first observed by capture #%(first)s "
                "at %(at)s (%(why)s)."
            )
            % values
        )
    else:
        reason = (
            _(
                "%(label)s #%(id)s confirmed the content online again, first observed by "
                "capture #%(first)s at %(at)s (%(why)s)."
            )
            % values
        )
    _set_due(finding, None)
    finding = finding_set_status(
        finding=finding, status=target, actor=capture.collector, reason=reason
    )
    return finding, target


# --- reads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ObservationState:
    """What the finding page says about the content: the latest observation, and a change
    that was observed once and awaits its confirming re-check."""

    latest: Capture | None
    pending: str  # "", "removal" or "return"
    first: Capture | None  # the observation that started the pending change
    confirm_after: datetime | None


def finding_observation_state(finding: Finding) -> ObservationState:
    """`finding` comes from a selector scoped to the user (cases.intake.selectors)."""
    observed = Capture.objects.filter(finding=finding, observed_at__isnull=False).order_by(
        "-observed_at", "-id"
    )
    latest = observed.first()
    decisive = observed.filter(observation__in=DECISIVE).first()
    target = _target(finding, decisive.observation) if decisive is not None else None
    if decisive is None or target is None:
        return ObservationState(latest, "", None, None)
    first = _first_of_run(finding, decisive.observation)
    if first is None or first.observed_at is None or finding.recheck_due_at is None:
        # Not a change in waiting: e.g. a finding marked removed by hand after a visit that
        # saw it online (no confirming re-check is scheduled for it).
        return ObservationState(latest, "", None, None)
    pending = "removal" if target == FindingStatus.REMOVED else "return"
    return ObservationState(latest, pending, first, first.observed_at + confirm_interval())
