"""Evidence: ingest (content-addressed, write-once, idempotent), custody, integrity checks.

Order of work in evidence_ingest, and why:
1. stream the input to a temporary file, hashing it (the hash at collection);
2. put the blob under evidence/sha256/ab/cd/<sha256> (or verify the one already there);
3. only then insert the row, in a savepoint, with the custody and audit events.
A crash after 2 leaves an orphan blob (harmless: content-addressed, and the retry reuses it);
a crash before 2 leaves nothing. There is never a row whose blob was not written first.
Two concurrent ingests of the same bytes race on UniqueConstraint(agency, sha256): the loser
gets IntegrityError inside its savepoint and returns the winner's row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.evidence.models import Capture, CustodyAction, CustodyEvent, Evidence
from cases.evidence.signals import evidence_stored
from cases.evidence.uploads import image_dimensions, sniff
from cases.intake.models import Finding
from cases.kernel.actor import Actor, actor_fields, actor_user
from cases.kernel.audit.services import AuditEntry, audit_record, audit_record_many
from cases.kernel.models import Agency
from cases.kernel.outbox import outbox_enqueue
from cases.kernel.storage import (
    BlobIntegrityError,
    blob_hash,
    blob_name,
    blob_open,
    blob_put,
    blob_spool,
    evidence_storage,
)

log = logging.getLogger(__name__)

OCTET_STREAM = "application/octet-stream"


def custody_record_many(
    *, agency: Agency, evidence: Sequence[Evidence], action: str, actor: Actor, reason: str = ""
) -> list[CustodyEvent]:
    """Append one custody event per item and one audit event each, in one transaction: one
    chain lock and two bulk inserts however many items (a dossier export, a download).
    Every item must be the agency's."""
    if not evidence:
        return []
    if any(item.agency_id != agency.pk for item in evidence):
        raise ValueError("the evidence belongs to another agency")
    actor_obj, label = actor_fields(actor)
    now = timezone.now()
    with transaction.atomic():
        events = CustodyEvent.objects.bulk_create(
            [
                CustodyEvent(
                    agency_id=item.agency_id,
                    evidence=item,
                    action=action,
                    actor=actor_obj,
                    actor_label=label,
                    reason=reason,
                    created_at=now,
                )
                for item in evidence
            ]
        )
        audit_record_many(
            agency=agency,
            actor=actor,
            entries=[
                AuditEntry(
                    action=f"evidence.{action}",
                    obj=item,
                    data={"sha256": item.sha256, "custody_event": event.pk, "reason": reason},
                )
                for item, event in zip(evidence, events, strict=True)
            ],
            at=now,
        )
    return events


def custody_record(
    *, evidence: Evidence, action: str, actor: Actor, reason: str = ""
) -> CustodyEvent:
    """Append one custody event and its audit event, in one transaction."""
    return custody_record_many(
        agency=evidence.agency, evidence=[evidence], action=action, actor=actor, reason=reason
    )[0]


def _media_type(head: bytes, given: str) -> str:
    sniffed = sniff(head)
    if sniffed is not None:
        # The bytes decide what an image or video is; a caller's label cannot override it.
        return sniffed.media_type
    return given or OCTET_STREAM


def _check_tenancy(agency: Agency, finding: Finding | None, capture: Capture | None) -> None:
    if finding is not None and finding.agency_id != agency.pk:
        raise ValueError("the finding belongs to another agency")
    if capture is not None and capture.agency_id != agency.pk:
        raise ValueError("the capture belongs to another agency")


def _enqueue_derived_work(evidence_id: int) -> None:
    """Work derived from a new original: the blurred preview here, and through the
    evidence_stored hook the PDQ hashes that match it against the agency's other evidence and
    reference media (all idempotent)."""
    outbox_enqueue("cases.evidence.tasks.evidence_preview_build", evidence_id=evidence_id)
    evidence_stored.send(sender=Evidence, evidence_id=evidence_id)


def evidence_ingest(
    *,
    agency: Agency,
    data: bytes | IO[bytes],
    kind: str,
    collected_by: Actor = None,
    finding: Finding | None = None,
    capture: Capture | None = None,
    original_name: str = "",
    media_type: str = "",
    width: int | None = None,
    height: int | None = None,
) -> tuple[Evidence, bool]:
    """Store bytes once (content-addressed), record custody "collected", and queue derived
    work (the blurred preview) after commit. Returns (evidence, created); the same bytes
    ingested again by the agency return the existing row with created=False, whoever wins
    a concurrent race. `original_name` must already be display-safe (see
    cases.evidence.uploads.sanitize_filename); it is never used as a path."""
    _check_tenancy(agency, finding, capture)
    storage = evidence_storage()
    with blob_spool(data, storage=storage) as spooled:
        # Always put: it writes the blob, or verifies the one already there, which also
        # restores a lost blob from the very same bytes.
        name, written = blob_put(spooled, storage=storage)
        existing = Evidence.objects.filter(agency=agency, sha256=spooled.sha256).first()
        if existing is not None:
            return existing, False
        resolved_type = _media_type(spooled.head, media_type)
        if width is None and resolved_type.startswith("image/"):
            with spooled.open() as handle:
                width, height = image_dimensions(handle, resolved_type)
        uploaded_by = actor_user(collected_by)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    evidence = Evidence.objects.create(
                        agency=agency,
                        finding=finding,
                        capture=capture,
                        kind=kind,
                        sha256=spooled.sha256,
                        size=spooled.size,
                        media_type=resolved_type[:100],
                        original_name=original_name[:255],
                        storage_name=name,
                        width=width,
                        height=height,
                        uploaded_by=uploaded_by if capture is None else None,
                    )
            except IntegrityError:
                # A concurrent ingest of the same bytes committed first: theirs is ours.
                return Evidence.objects.get(agency=agency, sha256=spooled.sha256), False
            # Stored in this machine form (pages show it as a sentence: the custody_reason
            # filter) and logged with the evidence's id.
            reason = _collected_reason(kind, finding, capture, written)
            custody_record(
                evidence=evidence, action=CustodyAction.COLLECTED, actor=collected_by, reason=reason
            )
            log.info("evidence %s collected: %s", evidence.pk, reason)
            _enqueue_derived_work(evidence.pk)
    return evidence, True


def _collected_reason(
    kind: str, finding: Finding | None, capture: Capture | None, written: bool
) -> str:
    parts = [f"kind={kind}"]
    if finding is not None:
        parts.append(f"finding={finding.pk}")
    if capture is not None:
        parts.append(f"capture={capture.pk}")
    parts.append("blob=new" if written else "blob=existing,verified")
    return " ".join(parts)


def evidence_open(evidence: Evidence) -> IO[bytes]:
    """The original's bytes, for readers (download view, dossier, PDQ, detection)."""
    return blob_open(evidence.storage_name)


# ---------------------------------------------------------------------------- integrity


@dataclass
class VerifyProblem:
    evidence_id: int
    agency_id: int
    sha256: str
    storage_name: str
    problem: str  # "missing", "altered" or "misplaced"
    detail: str = ""


@dataclass
class AgencyVerifyCounts:
    checked: int = 0
    ok: int = 0
    missing: list[int] = field(default_factory=list)
    altered: list[int] = field(default_factory=list)


@dataclass
class VerifyReport:
    """One integrity run: rows checked, distinct blobs re-hashed, and what was wrong."""

    rows: int = 0
    blobs: int = 0
    problems: list[VerifyProblem] = field(default_factory=list)
    per_agency: dict[int, AgencyVerifyCounts] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _blob_state(storage_name: str, sha256: str) -> tuple[str, str]:
    """("", "") when the blob verifies, else (problem, detail)."""
    storage = evidence_storage()
    if storage_name != blob_name(sha256):
        return "misplaced", f"row names {storage_name}, expected {blob_name(sha256)}"
    try:
        if not storage.exists(storage_name):
            return "missing", "no file under the content address"
        actual = blob_hash(storage_name, storage=storage)
    except OSError as exc:
        return "missing", f"unreadable: {exc}"
    if actual != sha256:
        return "altered", f"hashes to {actual}"
    return "", ""


def evidence_verify_all(*, record: bool = True, batch_size: int = 2000) -> VerifyReport:
    """Re-hash every stored original (each distinct blob once, however many agencies hold
    it) and report missing, altered or misplaced ones. With `record`, each agency that holds
    evidence gets one audit event with its counts: a run is one event, not one per file."""
    report = VerifyReport()
    rows = (
        Evidence.objects.order_by("sha256", "pk")
        .values_list("pk", "agency_id", "sha256", "storage_name")
        .iterator(chunk_size=batch_size)
    )
    cache: dict[str, tuple[str, str]] = {}
    previous_sha = None
    for pk, agency_id, sha256, storage_name in rows:
        if sha256 != previous_sha:
            cache.clear()  # rows come sorted by hash: one blob's rows are consecutive
            previous_sha = sha256
        if storage_name not in cache:
            cache[storage_name] = _blob_state(storage_name, sha256)
            report.blobs += 1
        problem, detail = cache[storage_name]
        counts = report.per_agency.setdefault(agency_id, AgencyVerifyCounts())
        counts.checked += 1
        report.rows += 1
        if not problem:
            counts.ok += 1
            continue
        (counts.missing if problem == "missing" else counts.altered).append(pk)
        report.problems.append(VerifyProblem(pk, agency_id, sha256, storage_name, problem, detail))
        log.error("evidence #%s (%s): %s %s", pk, sha256, problem, detail)
    if record:
        _record_runs(report)
    return report


def _record_runs(report: VerifyReport) -> None:
    agencies = Agency.objects.in_bulk(list(report.per_agency))
    for agency_id, counts in report.per_agency.items():
        data: dict[str, Any] = {
            "checked": counts.checked,
            "ok": counts.ok,
            "missing": len(counts.missing),
            "altered": len(counts.altered),
            # Enough ids to start investigating; the command prints all of them.
            "missing_ids": counts.missing[:100],
            "altered_ids": counts.altered[:100],
        }
        with transaction.atomic():
            audit_record(
                agency=agencies[agency_id],
                actor=None,
                action="evidence.verify_run",
                data=data,
            )


__all__ = [
    "BlobIntegrityError",
    "VerifyReport",
    "custody_record",
    "custody_record_many",
    "evidence_ingest",
    "evidence_open",
    "evidence_verify_all",
]
