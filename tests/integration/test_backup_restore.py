"""Backups restore: scripts/backup.sh dumps the database and tars the evidence storage,
scripts/restore.sh puts both into a FRESH database and directory, and there the audit
chains (against their anchors, which live in the storage) and every evidence original
verify (docs/deploy.md "Backups"). PostgreSQL only: the scripts use pg_dump/pg_restore."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from cases.evidence.models import EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from cases.kernel.audit.services import audit_anchor_all
from cases.kernel.models import AuditEvent
from tests.conftest import require_service

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
RESTORE_DB = "agencyguard_restore_test"


def database_url(name: str) -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    )


def drop_restored() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{RESTORE_DB}" WITH (FORCE)')


@pytest.fixture
def postgres() -> Iterator[None]:
    require_service(
        connection.vendor == "postgresql",
        "needs PostgreSQL (DATABASE_URL=postgres://...): backups are pg_dump/pg_restore",
    )
    require_service(
        all(shutil.which(tool) for tool in ("pg_dump", "pg_restore", "psql")),
        "needs the PostgreSQL client tools (pg_dump, pg_restore, psql) on PATH",
    )
    drop_restored()
    yield
    drop_restored()


def script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def manage(command: str, *, var_dir: Path) -> subprocess.CompletedProcess[str]:
    """A management command against the restored database and storage."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(RESTORE_DB),
        "VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "agencyguard.settings",
    }
    return subprocess.run(
        [sys.executable, "manage.py", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_backup_restores_into_a_fresh_database_and_verifies(
    postgres, agency, bob, finding, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    for content in (b"first evidence file", b"second evidence file"):
        evidence_ingest(agency=agency, data=content, kind=EvidenceKind.UPLOAD, finding=finding)
    audit_anchor_all(reason="before the backup")
    events = AuditEvent.objects.count()
    assert events > 3

    made = script(
        "scripts/backup.sh",
        str(tmp_path / "backups"),
        env={
            "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        },
    )
    assert made.returncode == 0, made.stderr
    folder = Path(made.stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in folder.iterdir()) == [
        "SHA256SUMS",
        "database.dump",
        "storage.tar",
    ]

    var_dir = tmp_path / "restored-var"
    restored = script(
        "scripts/restore.sh", str(folder), database_url(RESTORE_DB), str(var_dir / "media")
    )
    assert restored.returncode == 0, restored.stderr

    audit = manage("audit_verify", var_dir=var_dir)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    evidence = manage("evidence_verify", var_dir=var_dir)
    assert evidence.returncode == 0, evidence.stdout + evidence.stderr

    # The contrary case: an altered original in the restored storage is reported.
    blob = next(p for p in (var_dir / "media" / "evidence" / "sha256").rglob("*") if p.is_file())
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    altered = manage("evidence_verify", var_dir=var_dir)
    assert altered.returncode == 1
    assert "ALTERED" in altered.stdout + altered.stderr

    # Never over existing data: the database now exists.
    again = script(
        "scripts/restore.sh", str(folder), database_url(RESTORE_DB), str(tmp_path / "other")
    )
    assert again.returncode != 0
    assert "restore only into a fresh database" in again.stderr


def test_a_damaged_backup_is_refused(postgres, agency, tmp_path) -> None:  # type: ignore[no-untyped-def]
    made = script(
        "scripts/backup.sh",
        str(tmp_path / "backups"),
        env={
            "DATABASE_URL": database_url(connection.settings_dict["NAME"]),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        },
    )
    assert made.returncode == 0, made.stderr
    folder = Path(made.stdout.strip().splitlines()[-1])
    with (folder / "database.dump").open("ab") as dump:
        dump.write(b"\0")
    refused = script(
        "scripts/restore.sh", str(folder), database_url(RESTORE_DB), str(tmp_path / "m")
    )
    assert refused.returncode != 0
    assert "backup damaged" in refused.stderr
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [RESTORE_DB])
        assert cursor.fetchone() is None
