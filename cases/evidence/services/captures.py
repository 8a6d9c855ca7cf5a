"""Captures: request one, run one (the worker's side), and schedule re-checks.

A capture runs in two phases, and the split is what makes it crash-safe:
1. the pipeline (cases.evidence.capture.pipeline) visits the URL and builds every artefact in
   memory or temporary files, committing only progress updates on the Capture row;
2. one transaction then ingests every artefact as Evidence, fills in the Capture record,
   moves the finding along its lifecycle and writes the audit events.
A worker killed in phase 1 leaves no Evidence; one killed in phase 2 rolls the whole
transaction back (a blob already written is complete and content-addressed, and the rerun
reuses it). A capture is a job (cases.kernel.jobs, `job_overlap_safe`): the redelivered
task finds the same Capture row still running and claims it again at once; one that finds
it finished does nothing. Two deliveries running at once both reach phase 2, where the row
lock lets the first one record and the second one stop.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.evidence.capture.browser import BrowserOptions
from cases.evidence.capture.observation import RemovalSignature
from cases.evidence.capture.pipeline import (
    TOOL_NAME,
    CaptureOutput,
    CapturePipeline,
    PipelineOptions,
    Step,
)
from cases.evidence.capture.wacz import signer_from_file
from cases.evidence.models import Capture, CaptureStatus
from cases.evidence.services.evidence import evidence_ingest
from cases.evidence.services.observations import REMOVABLE, finding_observe
from cases.evidence.services.removal_signatures import removal_signatures_for_capture
from cases.evidence.uploads import sanitize_filename
from cases.intake.models import Finding, FindingStatus
from cases.intake.services.findings import finding_platform_refresh, finding_set_status
from cases.kernel.actor import Actor, actor_user
from cases.kernel.audit.services import AuditEntry, audit_record, audit_record_many
from cases.kernel.jobrecovery import job_resend_if_stale
from cases.kernel.jobs import (
    JobNotRetryable,
    job_claim,
    job_finish,
    job_progress,
    job_reap_stale,
    job_retry,
)
from cases.kernel.net.fetcher import Connector, Resolver
from cases.kernel.net.policy import Policy
from cases.kernel.outbox import outbox_enqueue_many

log = logging.getLogger(__name__)


FINISHED = Capture.job_finished_statuses
ACTIVE = (CaptureStatus.QUEUED, CaptureStatus.RUNNING)
# Statuses a capture that finds live content moves a finding to "captured" from.
CAPTURABLE = (FindingStatus.NEW, FindingStatus.TRIAGED, FindingStatus.REAPPEARED)


# --- configuration from settings --------------------------------------------------------


def capture_policy() -> Policy:
    """The network policy of every capture, from settings."""
    return Policy(
        allowed_ports=frozenset(settings.CAPTURE_ALLOWED_PORTS),
        allow_loopback=settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS,
        max_body_bytes=settings.CAPTURE_MAX_PAGE_BYTES,
        total_deadline=float(settings.CAPTURE_PAGE_DEADLINE_S),
    )


def capture_options(
    *, collect_media: bool = True, removal_signatures: tuple[RemovalSignature, ...] = ()
) -> PipelineOptions:
    width, height = settings.CAPTURE_VIEWPORT
    return PipelineOptions(
        removal_signatures=removal_signatures,
        screenshot=settings.CAPTURE_SCREENSHOT,
        collect_media=collect_media,
        media_max_items=settings.CAPTURE_MEDIA_MAX_ITEMS,
        media_max_bytes=settings.CAPTURE_MEDIA_MAX_BYTES,
        media_total_bytes=settings.CAPTURE_MEDIA_TOTAL_BYTES,
        browser=BrowserOptions(
            chromium_path=settings.CAPTURE_CHROMIUM_PATH,
            viewport_width=width,
            viewport_height=height,
            page_timeout_s=float(settings.CAPTURE_BROWSER_TIMEOUT_S),
            max_height=settings.CAPTURE_SCREENSHOT_MAX_HEIGHT,
        ),
        wacz=settings.CAPTURE_WACZ,
        wacz_signer=signer_from_file(settings.CAPTURE_WACZ_SIGNING_KEY_FILE),
    )


# --- request ---------------------------------------------------------------------------


def _enqueue(capture_ids: Sequence[int]) -> None:
    """Queue the captures' tasks through the outbox, in the caller's transaction."""
    outbox_enqueue_many(Capture.job_task, [{Capture.job_task_arg: pk} for pk in capture_ids])


def capture_request(*, finding: Finding, actor: Actor, is_recheck: bool = False) -> Capture:
    """Queue a capture of the finding's URL; the worker runs it after commit. A capture of
    the same finding that is still queued or running is returned instead of a second one
    (a double click, or a re-check while a capture runs). An active capture that is stuck
    (its worker died, or its message was lost after it was sent) is sent again; one whose
    message waits in the outbox is left to the outbox sweep (cases.kernel.jobrecovery)."""
    with transaction.atomic():
        # The finding's row lock serialises two requests for the same finding.
        Finding.objects.select_for_update().only("pk").get(pk=finding.pk)
        active = Capture.objects.filter(finding=finding, status__in=ACTIVE).first()
        if active is not None:
            job_resend_if_stale(active)
            return active
        collector = actor_user(actor)
        capture = Capture.objects.create(
            agency_id=finding.agency_id,
            finding=finding,
            requested_url=finding.url.strip() or finding.canonical_url,
            collector=collector,
            is_recheck=is_recheck,
            step=Step.QUEUED,
            tool_name=TOOL_NAME,
        )
        audit_record(
            agency=finding.agency,
            actor=actor,
            action="capture.requested",
            obj=capture,
            data={"finding": finding.pk, "url": capture.requested_url, "recheck": is_recheck},
        )
        _enqueue([capture.pk])
    return capture


# --- run -------------------------------------------------------------------------------


def capture_run(
    *, capture_id: int, resolver: Resolver | None = None, connector: Connector | None = None
) -> Capture | None:
    """Run one capture to the end (the worker's task). Idempotent: a finished capture is
    left alone, an interrupted one starts again on the same row. `resolver` and
    `connector` replace DNS and the network (tests)."""
    capture = job_claim(model=Capture, pk=capture_id, related=("agency", "finding", "collector"))
    if capture is None:
        return None

    def progress(percent: int, step: str) -> None:
        # Committed at once (autocommit): the UI polls it while the pipeline works.
        job_progress(job=capture, percent=percent, step=step)

    progress(1, Step.FETCHING)
    finding = capture.finding
    # A re-check collects media again only when the content may be back; otherwise the
    # visit, HTML, screenshot and WARC document the state of the page.
    collect_media = not capture.is_recheck or finding.status == FindingStatus.REMOVED
    warc_info = {
        "operator": capture.collector.get_username() if capture.collector else "system (re-check)",
        "agency": capture.agency.slug,
        "finding": finding.pk,
        "collector-public-ip": settings.CAPTURE_COLLECTOR_PUBLIC_IP,
    }
    pipeline = CapturePipeline(
        policy=capture_policy(),
        options=capture_options(
            collect_media=collect_media,
            removal_signatures=removal_signatures_for_capture(agency=capture.agency),
        ),
        progress=progress,
        resolver=resolver,
        connector=connector,
        warc_info=warc_info,
    )
    output = pipeline.run(capture.requested_url, label=f"capture-{capture.pk}")
    progress(92, Step.STORING)
    return _record(capture_id=capture.pk, output=output)


# What phase 2 writes on the row, besides the job's lifecycle columns.
RECORD_FIELDS = (
    "outcome",
    "observation",
    "observation_reason",
    "observed_at",
    "final_url",
    "redirect_chain",
    "http_status",
    "headers",
    "resolved_ip",
    "collector_ip",
    "tool_name",
    "tool_version",
    "tool_settings",
    "details",
)


def _record(*, capture_id: int, output: CaptureOutput) -> Capture:
    with transaction.atomic():
        capture = (
            Capture.objects.select_for_update(of=("self",))
            .select_related("agency", "finding", "collector")
            .get(pk=capture_id)
        )
        if capture.status in FINISHED:
            return capture  # another delivery of the same task recorded it first
        manifest = []
        for artefact in output.artefacts:
            evidence, created = evidence_ingest(
                agency=capture.agency,
                data=artefact.data,
                kind=artefact.kind,
                collected_by=capture.collector,
                finding=capture.finding,
                capture=capture,
                original_name=sanitize_filename(artefact.name),
                media_type=artefact.media_type,
            )
            manifest.append(
                {
                    "kind": artefact.kind,
                    "evidence": evidence.pk,
                    "sha256": evidence.sha256,
                    "size": evidence.size,
                    "media_type": evidence.media_type,
                    "name": evidence.original_name,
                    "url": artefact.url,
                    # Same bytes stored before (by another capture): one Evidence row.
                    "reused": not created,
                }
            )
        details = {**capture.details, **output.details, "artefacts": manifest}
        if settings.CAPTURE_COLLECTOR_PUBLIC_IP:
            details["collector_public_ip"] = settings.CAPTURE_COLLECTOR_PUBLIC_IP
        capture.outcome = output.outcome
        capture.observation = output.observation
        capture.observation_reason = output.observation_reason[:200]
        capture.observed_at = output.observed_at or timezone.now()
        capture.final_url = output.final_url
        capture.redirect_chain = output.redirect_chain
        capture.http_status = output.http_status
        capture.headers = output.headers
        capture.resolved_ip = output.resolved_ip
        capture.collector_ip = output.collector_ip
        capture.tool_name = TOOL_NAME
        capture.tool_version = output.tool_version
        capture.tool_settings = output.tool_settings
        capture.details = details
        job_finish(
            job=capture,
            status=output.status,
            step=Step.DONE,
            error=output.error,
            update_fields=RECORD_FIELDS,
        )
        if capture.final_url:
            # The finding belongs to the platform that serves it after redirects.
            finding_platform_refresh(
                finding=capture.finding, final_url=capture.final_url, actor=capture.collector
            )
        audit_record(
            agency=capture.agency,
            actor=capture.collector,
            action="capture.finished",
            obj=capture,
            data={
                "finding": capture.finding_id,
                "status": capture.status,
                "outcome": capture.outcome,
                "http_status": capture.http_status,
                "final_url": capture.final_url,
                "observation": output.observation,
                "observation_reason": output.observation_reason,
                "evidence": [[item["kind"], item["sha256"]] for item in manifest],
            },
        )
        _apply_to_finding(capture, output)
    return capture


def _apply_to_finding(capture: Capture, output: CaptureOutput) -> None:
    """Move the finding along its lifecycle after what this capture saw. Removal and
    reappearance need a confirming observation (cases.evidence.services.observations)."""
    finding, moved_to = finding_observe(capture=capture)
    if moved_to == FindingStatus.REAPPEARED:
        _alert_reappeared(finding, capture)
    elif (
        moved_to is None and output.live and finding.status in CAPTURABLE and not capture.is_recheck
    ):
        finding_set_status(
            finding=finding,
            status=FindingStatus.CAPTURED,
            actor=capture.collector,
            reason=_("Capture #%(id)s") % {"id": capture.pk},
        )


def _alert_reappeared(finding: Finding, capture: Capture) -> None:
    assignee = finding.assignee
    email = assignee.email if assignee is not None and assignee.email else ""
    audit_record(
        agency=finding.agency,
        actor=None,
        action="finding.reappeared_alert",
        obj=finding,
        data={
            "capture": capture.pk,
            "assignee": assignee.get_username() if assignee else None,
            "emailed": bool(email),
        },
    )
    if email:
        transaction.on_commit(
            partial(_send_reappeared_mail, email, finding.pk, capture.pk, finding.canonical_url)
        )


def _send_reappeared_mail(email: str, finding_id: int, capture_id: int, url: str) -> None:
    link = f"{settings.SITE_URL.rstrip('/')}/findings/{finding_id}/"
    subject = _("Finding #%(id)s is back online") % {"id": finding_id}
    body = _(
        "A scheduled re-check (capture #%(capture)s) found content that had been removed "
        "online again:\n\n%(url)s\n\nThe finding is now marked as reappeared: %(link)s"
    ) % {"capture": capture_id, "url": url, "link": link}
    try:
        send_mail(subject, body, None, [email])
    except Exception:
        # The audit event already records the alert; a mail server outage must not fail
        # the capture that found the reappearance.
        log.exception("could not e-mail the reappearance of finding %s", finding_id)


def capture_retry(*, capture: Capture, actor: Actor) -> Capture:
    """Run a capture again whose worker gave up before the visit (Capture.is_retryable),
    on the same row. Refused while another capture of the finding is queued or running,
    and for a visit that failed: that is a record of the moment; request a new capture."""
    with transaction.atomic():
        Finding.objects.select_for_update().only("pk").get(pk=capture.finding_id)
        active = Capture.objects.filter(finding_id=capture.finding_id, status__in=ACTIVE).first()
        if active is not None:
            raise JobNotRetryable(
                _("Capture #%(id)s of this finding is already queued or running.")
                % {"id": active.pk}
            )
        if not capture.is_retryable:
            raise JobNotRetryable(
                _("Only a capture that failed before visiting the page can be retried.")
            )
        return job_retry(job=capture, actor=actor)


# --- re-checks -------------------------------------------------------------------------


def recheck_due_findings(*, now: datetime | None = None, limit: int | None = None) -> list[int]:
    """Queue a re-check capture for every finding whose status has a re-check interval
    (CAPTURE_RECHECK_INTERVALS) and that no capture visited within that interval. At most
    `limit` (CAPTURE_RECHECK_BATCH) per call, oldest visits first; the next beat run takes
    the rest. Returns the new capture ids."""
    now = now or timezone.now()
    limit = settings.CAPTURE_RECHECK_BATCH if limit is None else limit
    # Captures whose worker or message was lost free their finding first.
    job_reap_stale(model=Capture, now=now)
    # A removal or a return online observed once: its confirming visit is due now, whatever
    # the status's usual interval (cases.evidence.services.observations).
    due = Q(recheck_due_at__lte=now, status__in=[*REMOVABLE, FindingStatus.REMOVED])
    for status, interval in settings.CAPTURE_RECHECK_INTERVALS.items():
        recent = Capture.objects.filter(finding=OuterRef("pk"), created_at__gte=now - interval)
        due |= Q(status=status) & ~Q(Exists(recent))
    active = Capture.objects.filter(finding=OuterRef("pk"), status__in=ACTIVE)
    created: list[Capture] = []
    with transaction.atomic():
        findings = list(
            Finding.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(due)
            .exclude(Exists(active))
            .select_related("agency")
            .only("pk", "agency", "url", "canonical_url")
            .order_by(F("recheck_due_at").asc(nulls_last=True), "updated_at", "pk")[:limit]
        )
        if not findings:
            return []
        captures = [
            Capture(
                agency_id=finding.agency_id,
                finding_id=finding.pk,
                requested_url=finding.url.strip() or finding.canonical_url,
                is_recheck=True,
                step=Step.QUEUED,
                tool_name=TOOL_NAME,
            )
            for finding in findings
        ]
        created = Capture.objects.bulk_create(captures, batch_size=500)
        by_agency: dict[int, list[AuditEntry]] = defaultdict(list)
        agencies: dict[int, Any] = {}
        for finding, capture in zip(findings, created, strict=True):
            agencies[finding.agency_id] = finding.agency
            by_agency[finding.agency_id].append(
                AuditEntry(
                    action="capture.requested",
                    obj=capture,
                    data={"finding": finding.pk, "url": capture.requested_url, "recheck": True},
                )
            )
        for agency_id, entries in by_agency.items():
            audit_record_many(agency=agencies[agency_id], actor=None, entries=entries, at=now)
        ids = [capture.pk for capture in created]
        _enqueue(ids)
    return ids
