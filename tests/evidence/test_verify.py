"""Integrity: `manage.py evidence_verify` and the scheduled task re-hash every original."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from cases.evidence.models import EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from cases.evidence.tasks import evidence_verify_all
from cases.kernel.models import AuditEvent
from tests.evidence.samples import png_bytes


def blob(evidence) -> Path:  # type: ignore[no-untyped-def]
    return Path(settings.MEDIA_ROOT) / evidence.storage_name


@pytest.fixture
def three(agency, other_agency):  # type: ignore[no-untyped-def]
    items = [
        evidence_ingest(agency=agency, data=png_bytes((40, 40), seed=n), kind=EvidenceKind.UPLOAD)[
            0
        ]
        for n in range(3)
    ]
    # Nebula holds the same bytes as Aurora's first item: one blob, two rows.
    shared, _ = evidence_ingest(
        agency=other_agency, data=png_bytes((40, 40), seed=0), kind=EvidenceKind.UPLOAD
    )
    return items, shared


def test_all_good_exits_zero_and_records_one_event_per_agency(three, agency, other_agency):
    out = StringIO()
    call_command("evidence_verify", stdout=out)
    assert "OK: 4 evidence rows, 3 blobs re-hashed, 0 problems" in out.getvalue()
    for tenant, checked in ((agency, 3), (other_agency, 1)):
        event = AuditEvent.objects.get(agency=tenant, action="evidence.verify_run")
        assert event.data["checked"] == checked and event.data["ok"] == checked
        assert event.data["missing"] == 0 and event.data["altered"] == 0


def test_a_modified_and_a_missing_blob_are_reported_and_exit_one(three, agency, other_agency):
    (first, second, third), shared = three
    path = blob(second)
    path.chmod(0o644)
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))  # one bit of the last byte
    blob(third).unlink()
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("evidence_verify", stdout=out)
    assert failed.value.returncode == 1
    text = out.getvalue()
    assert f"ALTERED evidence #{second.pk}" in text
    assert f"MISSING evidence #{third.pk}" in text
    assert f"#{first.pk} " not in text and f"#{shared.pk} " not in text
    assert "4 evidence rows, 3 blobs re-hashed, 2 problems" in str(failed.value)
    event = AuditEvent.objects.get(agency=agency, action="evidence.verify_run")
    assert event.data["altered_ids"] == [second.pk]
    assert event.data["missing_ids"] == [third.pk]
    # Nebula's run is clean: its only item shares the intact blob.
    assert AuditEvent.objects.get(agency=other_agency, action="evidence.verify_run").data["ok"] == 1


def test_no_audit_only_checks(three):
    call_command("evidence_verify", "--no-audit", stdout=StringIO())
    assert not AuditEvent.objects.filter(action="evidence.verify_run").exists()


def test_the_scheduled_task_reports_the_same(three):
    (_first, second, _third), _shared = three
    blob(second).unlink()
    result = evidence_verify_all.delay().get()
    assert result == {"rows": 4, "blobs": 3, "problems": 1}
    assert (
        settings.CELERY_BEAT_SCHEDULE["evidence-verify"]["task"]
        == "cases.evidence.tasks.evidence_verify_all"
    )
