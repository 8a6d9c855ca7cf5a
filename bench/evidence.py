"""Evidence ingest hashing throughput, as a ratio to plain hashlib.sha256 over the same bytes.

Three paths over the same 64 files of 4 MiB (256 MiB): hashlib alone (the floor), the
storage spool (hash while streaming to a temporary file, fsync), and the whole
`evidence_ingest` service (spool, write-once link into the content-addressed store, row,
custody and audit events). Files are stored under a temporary MEDIA_ROOT, removed after."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

from common import emit, note, setup_django, timer

setup_django()

from django.test import override_settings  # noqa: E402

from cases.agency.services.tenancy import agency_create, membership_create  # noqa: E402
from cases.evidence.services.evidence import evidence_ingest  # noqa: E402
from cases.kernel.models import Role  # noqa: E402
from cases.kernel.storage import blob_spool  # noqa: E402

FILES, SIZE = 64, 4 * 1024 * 1024


def main() -> None:
    blobs = [os.urandom(SIZE) for _ in range(FILES)]
    total_mb = FILES * SIZE / 1e6
    with timer() as elapsed:
        for blob in blobs:
            hashlib.sha256(blob).hexdigest()
    plain = total_mb / elapsed()
    emit("sha256_plain_mb_s", plain, "MB/s")

    media_root = tempfile.mkdtemp(prefix="bench-media-")
    try:
        with override_settings(MEDIA_ROOT=media_root):
            with timer() as elapsed:
                for blob in blobs:
                    with blob_spool(blob) as spooled:
                        assert spooled.size == SIZE
            spool = total_mb / elapsed()
            emit("ingest_spool_mb_s", spool, "MB/s")
            emit("ingest_spool_vs_sha256", spool / plain, "ratio")

            agency = agency_create(name="Bench Evidence Agency", slug="bench-evidence")
            user = membership_create(
                agency=agency, actor=None, username="bench-evidence", email="b@example.test",
                password=None, role=Role.LEGAL,
            ).user  # fmt: skip
            with timer() as elapsed:
                for n, blob in enumerate(blobs):
                    evidence_ingest(
                        agency=agency, data=blob, kind="upload", collected_by=user,
                        original_name=f"bench-{n}.bin", media_type="application/octet-stream",
                    )  # fmt: skip
            service = total_mb / elapsed()
            emit("ingest_service_mb_s", service, "MB/s")
            emit("ingest_service_vs_sha256", service / plain, "ratio")
            note(
                f"{FILES} files x {SIZE // 1024 // 1024} MiB, each fsynced (durable at collection)"
            )
    finally:
        shutil.rmtree(media_root, ignore_errors=True)


if __name__ == "__main__":
    main()
