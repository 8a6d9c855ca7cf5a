"""`make bench`: run every bench script (or those named as arguments, e.g.
`bench/run.py evidence.py`) against a database and a VAR_DIR of their own, and collect the
`BENCH <name> <value> <unit>` lines (also written to $VAR_DIR/bench/latest.txt).

Everything a run writes stays under $VAR_DIR/bench/ (VAR_DIR as the settings read it,
default var/): the scripts get $VAR_DIR/bench/run/ as their VAR_DIR (media, audit anchors,
broker folders, mail), removed after the run, so the development files are never touched;
scripts that need scratch space use temporary folders and remove them.

With DATABASE_URL pointing at PostgreSQL, a database named agencyguard_bench (BENCH_DB_NAME)
on the same server is created for the run and dropped afterwards; otherwise a SQLite file in
$VAR_DIR/bench/run/. BENCH_KEEP_DB=1 keeps the database and that folder for a look.

scale_1m.py works on a database of its own: the PostgreSQL database BENCH_DATABASE_URL names,
which it wipes and seeds with 1,000,000 findings; without the variable it says it skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from common import ROOT, var_dir

BENCHES = [
    "findings.py",
    "renderer.py",
    "imports.py",
    "evidence.py",
    "pdq_index.py",
    "capture.py",
    "detection_cpu.py",
    "dossier.py",
    "api_load.py",
    "outbox.py",
    "monitor.py",
    "scale_1m.py",
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


def prepare_database(scratch: Path) -> tuple[str, str]:
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
    path = scratch / "bench.sqlite3"
    import sqlite3

    return f"sqlite:///{path}", f"SQLite {sqlite3.sqlite_version}, {path}"


def drop_database(url: str) -> None:
    """Drop a PostgreSQL bench database (a SQLite one goes with the scratch folder)."""
    if url.startswith(("postgres://", "postgresql://")):
        name = urlsplit(url).path.strip("/")
        _admin_sql(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in BENCHES]
    if unknown:
        sys.exit(f"unknown bench scripts {unknown}; choose from {BENCHES}")
    scripts = argv or BENCHES
    bench_dir = var_dir() / "bench"
    scratch = bench_dir / "run"
    shutil.rmtree(scratch, ignore_errors=True)  # what a killed or kept run left
    scratch.mkdir(parents=True)
    url, description = prepare_database(scratch)
    env = {
        **os.environ,
        "VAR_DIR": str(scratch),
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
        for script in scripts:
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
            shutil.rmtree(scratch, ignore_errors=True)
    (bench_dir / "latest.txt").write_text(f"# {description}\n" + "\n".join(lines) + "\n")
    print(f"results: {bench_dir / 'latest.txt'}", flush=True)
    if failed:
        print(f"bench scripts failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
