"""Content-addressed, write-once ingest: hashing, dedupe, concurrency and crash safety."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
from pathlib import Path

import pytest
from django.core.files.storage import InMemoryStorage
from django.db import connection

from cases.evidence.models import CustodyAction, CustodyEvent, Evidence, EvidenceKind
from cases.evidence.services import evidence as evidence_services
from cases.evidence.services.evidence import evidence_ingest, evidence_open
from cases.kernel.models import AuditEvent
from cases.kernel.storage import CHUNK_SIZE, BlobIntegrityError, blob_name, blob_put, blob_spool
from tests.evidence.conftest import stored_files
from tests.evidence.samples import jpeg_bytes, png_bytes
from tests.factories import make_agency


def blob_path(sha256: str) -> Path:
    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / blob_name(sha256)


def test_ingest_stores_the_bytes_under_their_sha256(agency, finding, bob, image_bytes):
    evidence, created = evidence_ingest(
        agency=agency, data=image_bytes, kind=EvidenceKind.UPLOAD, collected_by=bob, finding=finding
    )
    sha = hashlib.sha256(image_bytes).hexdigest()
    assert created
    assert evidence.sha256 == sha
    assert evidence.size == len(image_bytes)
    assert evidence.storage_name == f"evidence/sha256/{sha[:2]}/{sha[2:4]}/{sha}"
    assert evidence.media_type == "image/png"
    assert (evidence.width, evidence.height) == (640, 480)
    assert evidence.uploaded_by == bob
    assert blob_path(sha).read_bytes() == image_bytes
    with evidence_open(evidence) as handle:
        assert handle.read() == image_bytes


def test_a_stream_larger_than_one_chunk_hashes_like_hashlib(agency, finding):
    data = os.urandom(CHUNK_SIZE * 2 + 12345)
    evidence, _ = evidence_ingest(
        agency=agency, data=io.BytesIO(data), kind=EvidenceKind.MEDIA, finding=finding
    )
    assert evidence.sha256 == hashlib.sha256(data).hexdigest()
    assert evidence.size == len(data)
    assert evidence.media_type == "application/octet-stream"
    assert blob_path(evidence.sha256).read_bytes() == data


def test_the_sniffed_type_wins_over_the_callers_label(agency, finding):
    evidence, _ = evidence_ingest(
        agency=agency, data=jpeg_bytes(), kind=EvidenceKind.MEDIA, media_type="text/html"
    )
    assert evidence.media_type == "image/jpeg"
    html, _ = evidence_ingest(
        agency=agency, data=b"<html>captured</html>", kind=EvidenceKind.HTML, media_type="text/html"
    )
    assert html.media_type == "text/html"


def test_the_same_bytes_are_one_evidence_and_one_blob(agency, finding, bob, image_bytes):
    first, created_first = evidence_ingest(
        agency=agency, data=image_bytes, kind=EvidenceKind.UPLOAD, collected_by=bob, finding=finding
    )
    inode = blob_path(first.sha256).stat().st_ino
    second, created_second = evidence_ingest(
        agency=agency, data=io.BytesIO(image_bytes), kind=EvidenceKind.UPLOAD, finding=finding
    )
    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Evidence.objects.count() == 1
    assert blob_path(first.sha256).stat().st_ino == inode  # verified, not rewritten
    assert [p.name for p in stored_files() if "evidence" in p.parts] == [first.sha256]
    # One "collected" custody event: a repeat ingest is not a second collection.
    assert list(CustodyEvent.objects.values_list("action", flat=True)) == ["collected"]


def test_two_agencies_with_the_same_file_share_one_blob(agency, other_agency, image_bytes):
    ours, _ = evidence_ingest(agency=agency, data=image_bytes, kind=EvidenceKind.UPLOAD)
    theirs, created = evidence_ingest(
        agency=other_agency, data=image_bytes, kind=EvidenceKind.UPLOAD
    )
    assert created and ours.pk != theirs.pk
    assert ours.storage_name == theirs.storage_name
    assert len([p for p in stored_files() if "sha256" in p.parts]) == 1


def test_collection_writes_custody_and_audit(agency, finding, bob, image_bytes):
    evidence, _ = evidence_ingest(
        agency=agency, data=image_bytes, kind=EvidenceKind.UPLOAD, collected_by=bob, finding=finding
    )
    custody = CustodyEvent.objects.get(evidence=evidence)
    assert custody.action == CustodyAction.COLLECTED
    assert custody.actor == bob and custody.actor_label == "bob"
    assert "blob=new" in custody.reason
    audit = AuditEvent.objects.get(action="evidence.collected")
    assert audit.object_type == "evidence" and audit.object_id == str(evidence.pk)
    assert audit.data["sha256"] == evidence.sha256
    assert audit.data["custody_event"] == custody.pk


def test_blobs_are_read_only_on_disk(agency, image_bytes):
    evidence, _ = evidence_ingest(agency=agency, data=image_bytes, kind=EvidenceKind.UPLOAD)
    mode = blob_path(evidence.sha256).stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_evidence_rows_cannot_be_deleted_or_rehashed(agency, image_bytes):
    evidence, _ = evidence_ingest(agency=agency, data=image_bytes, kind=EvidenceKind.UPLOAD)
    with pytest.raises(RuntimeError):
        evidence.delete()
    evidence.sha256 = "0" * 64
    with pytest.raises(RuntimeError):
        evidence.save()
    fresh = Evidence.objects.get(pk=evidence.pk)
    fresh.pdq_hash = "f" * 64  # derived data may be filled in later
    fresh.save(update_fields=["pdq_hash"])
    custody = CustodyEvent.objects.get(evidence=evidence)
    with pytest.raises(RuntimeError):
        custody.delete()


def test_a_finding_of_another_agency_is_refused(agency, other_agency, mallory, image_bytes):
    from tests.factories import make_finding

    theirs = make_finding(other_agency, "https://example.com/nebula", actor=mallory)
    with pytest.raises(ValueError):
        evidence_ingest(agency=agency, data=image_bytes, kind=EvidenceKind.UPLOAD, finding=theirs)
    assert not Evidence.objects.exists()


def test_an_altered_blob_is_never_replaced(agency, image_bytes):
    sha = hashlib.sha256(image_bytes).hexdigest()
    path = blob_path(sha)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"tampered")
    with pytest.raises(BlobIntegrityError):
        evidence_ingest(agency=agency, data=image_bytes, kind=EvidenceKind.UPLOAD)
    assert path.read_bytes() == b"tampered"
    assert not Evidence.objects.exists()


def test_a_crash_between_blob_and_row_leaves_only_an_orphan_blob_that_the_retry_reuses(
    agency, finding, bob, image_bytes, monkeypatch
):
    def killed(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("worker killed")

    monkeypatch.setattr(evidence_services, "custody_record", killed)
    with pytest.raises(RuntimeError, match="worker killed"):
        evidence_ingest(
            agency=agency,
            data=image_bytes,
            kind=EvidenceKind.UPLOAD,
            collected_by=bob,
            finding=finding,
        )
    sha = hashlib.sha256(image_bytes).hexdigest()
    assert not Evidence.objects.exists()  # the row rolled back with its custody event
    assert not AuditEvent.objects.filter(action="evidence.collected").exists()
    orphan = blob_path(sha)
    assert orphan.read_bytes() == image_bytes
    inode = orphan.stat().st_ino

    monkeypatch.undo()
    evidence, created = evidence_ingest(
        agency=agency, data=image_bytes, kind=EvidenceKind.UPLOAD, collected_by=bob, finding=finding
    )
    assert created and evidence.sha256 == sha
    assert orphan.stat().st_ino == inode
    assert "blob=existing,verified" in CustodyEvent.objects.get(evidence=evidence).reason


def test_a_crash_while_streaming_leaves_nothing(agency, finding):
    class DyingStream(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            if self.sent >= 2:
                raise ConnectionResetError("peer went away")
            self.sent += 1
            return b"x" * CHUNK_SIZE

    with pytest.raises(ConnectionResetError):
        evidence_ingest(agency=agency, data=DyingStream(), kind=EvidenceKind.MEDIA, finding=finding)
    assert not Evidence.objects.exists()
    assert stored_files() == []  # no blob, and the temporary file was removed


def test_a_missing_blob_of_an_existing_row_is_restored_from_the_same_bytes(agency, image_bytes):
    evidence, _ = evidence_ingest(agency=agency, data=image_bytes, kind=EvidenceKind.UPLOAD)
    path = blob_path(evidence.sha256)
    path.unlink()
    again, created = evidence_ingest(agency=agency, data=image_bytes, kind=EvidenceKind.UPLOAD)
    assert not created and again.pk == evidence.pk
    assert path.read_bytes() == image_bytes


def test_object_storage_is_written_once_and_verified(tmp_path):
    """The non-filesystem branch (S3 in production), on Django's in-memory storage."""
    storage = InMemoryStorage()
    data = png_bytes((32, 32))
    with blob_spool(data, storage=storage) as spooled:
        name, written = blob_put(spooled, storage=storage)
    assert written and name == blob_name(hashlib.sha256(data).hexdigest())
    with blob_spool(data, storage=storage) as spooled:
        assert blob_put(spooled, storage=storage) == (name, False)
    with storage.open(name, "rb") as handle:
        assert handle.read() == data
    assert storage.listdir(name.rsplit("/", 1)[0]) == ([], [name.rsplit("/", 1)[1]])
    # An altered object is reported, not overwritten.
    storage.delete(name)
    storage.save(name, io.BytesIO(b"tampered"))
    with blob_spool(data, storage=storage) as spooled, pytest.raises(BlobIntegrityError):
        blob_put(spooled, storage=storage)
    with storage.open(name, "rb") as handle:
        assert handle.read() == b"tampered"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ingests_of_the_same_bytes_make_one_evidence(monkeypatch):
    """Both threads pass the "already there?" check before either inserts; the database
    constraint decides, and the loser returns the winner's row."""
    if connection.vendor == "sqlite":
        pytest.skip(
            "SQLite's in-memory test database shares one cache across threads and locks whole "
            "tables; this race is proven on PostgreSQL (CI runs the suite there)."
        )
    agency = make_agency("Aurora Entertainment", "aurora")
    data = png_bytes((64, 64), seed=11)
    barrier = threading.Barrier(2, timeout=20)
    real_put = evidence_services.blob_put

    def put_then_wait(spooled, **kwargs):  # type: ignore[no-untyped-def]
        result = real_put(spooled, **kwargs)
        barrier.wait()
        return result

    monkeypatch.setattr(evidence_services, "blob_put", put_then_wait)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            evidence, created = evidence_ingest(agency=agency, data=data, kind=EvidenceKind.UPLOAD)
            results.append((evidence.pk, created))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ingest) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert sorted(created for _, created in results) == [False, True]
    assert len({pk for pk, _ in results}) == 1
    assert Evidence.objects.count() == 1
    assert CustodyEvent.objects.count() == 1
    assert len([p for p in stored_files() if "sha256" in p.parts]) == 1
