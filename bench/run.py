"""`make bench`: run every bench script against a database of its own and collect the
`BENCH <name> <value> <unit>` lines (also written to bench/out/latest.txt).

With DATABASE_URL pointing at PostgreSQL, a database named agencyguard_bench (BENCH_DB_NAME)
on the same server is created for the run and dropped afterwards; otherwise a SQLite file
var/bench.sqlite3. The development database is never touched."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCHES = [
    "findings.py",
    "imports.py",
    "evidence.py",
    "pdq_index.py",
    "capture.py",
    "detection_cpu.py",
    "dossier.py",
]


def _admin_sql(url: str, *statements: str) -> list[object]:
    """Run statements on the server's `postgres` database, outside any transaction (as
    CREATE/DROP DATABASE require); returns the first column of each statement's first row."""
    import psycopg2

    parts = urlsplit(url)
    conn = psycopg2.connect(
        dbname="postgres", user=parts.username, password=parts.password,
        host=parts.hostname, port=parts.port or 5432,
    )  # fmt: skip
    conn.autocommit = True
    results: list[object] = []
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                row = cursor.fetchone() if cursor.description else None
                results.append(row[0] if row else None)
    finally:
        conn.close()
    return results


def prepare_database() -> tuple[str, str]:
    """Create an empty bench database; returns (DATABASE_URL for it, description)."""
    url = os.getenv("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        name = os.getenv("BENCH_DB_NAME", "agencyguard_bench")
        if name == urlsplit(url).path.strip("/") and not name.endswith("_bench"):
            sys.exit(f"refusing to use {name!r}: the bench database must not be the app's database")
        *_, version = _admin_sql(
            url,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}"',
            "SELECT version()",
        )
        version = str(version).split(" on ")[0]
        return urlunsplit(urlsplit(url)._replace(path=f"/{name}")), f"{version}, database {name}"
    path = ROOT / "var" / "bench.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    import sqlite3

    return f"sqlite:///{path}", f"SQLite {sqlite3.sqlite_version}, {path.relative_to(ROOT)}"


def drop_database(url: str) -> None:
    if url.startswith(("postgres://", "postgresql://")):
        name = urlsplit(url).path.strip("/")
        _admin_sql(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = urlsplit(url).path
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def main() -> int:
    url, description = prepare_database()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "AG_BENCH": "1",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    print(f"bench database: {description}", flush=True)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", flush=True)
    lines: list[str] = []
    failed = []
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        for script in BENCHES:
            print(f"== {script}", flush=True)
            started = time.monotonic()
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / script)], cwd=ROOT, env=env,
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert process.stdout is not None
            for line in process.stdout:
                print(line, end="", flush=True)
                if line.startswith("BENCH "):
                    lines.append(line.rstrip("\n"))
            if process.wait() != 0:
                failed.append(script)
            print(f"== {script} done in {time.monotonic() - started:.0f}s", flush=True)
    finally:
        if os.getenv("BENCH_KEEP_DB") != "1":
            drop_database(url)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "latest.txt").write_text(f"# {description}\n" + "\n".join(lines) + "\n")
    if failed:
        print(f"bench scripts failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
