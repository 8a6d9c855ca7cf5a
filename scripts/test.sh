#!/usr/bin/env bash
# `make test`: install what the tests need, then run the whole suite.
#
# Two pytest runs: unit and view tests spread over the cores (pytest-xdist); browser and
# integration tests run on their own afterwards, since they start servers and worker
# processes of their own. Extra arguments go to a single pytest run instead.
# SQLite by default; DATABASE_URL=postgres://... runs the same tests on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

# nginx (about 1.5 MB, never started): `nginx -t` checks docker/nginx.conf
# (tests/test_deploy_proxy.py).
bash scripts/system-deps.sh gettext chromium fonts-noto-cjk \
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils nginx
bash scripts/setup.sh

PY=.venv/bin/python
results=var/test-results
mkdir -p "$results"
rm -f "$results"/*.xml "$results"/summary.txt

if [ $# -gt 0 ]; then
    exec "$PY" -m pytest -p no:cacheprovider "$@"
fi

status=0
run_pytest() {
    local name=$1
    shift
    local rc=0
    "$PY" -m pytest -p no:cacheprovider --junitxml="$results/$name.xml" "$@" || rc=$?
    # 5 = nothing collected for this selection (e.g. no browser tests yet): not a failure.
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then
        status=1
    fi
}

echo "---- unit, view and API tests (parallel: ${PYTEST_WORKERS:-auto} workers) ----"
run_pytest unit -n "${PYTEST_WORKERS:-auto}" -m "not browser and not integration"
echo "---- browser and integration tests (serial) ----"
run_pytest serial -p no:xdist -m "browser or integration"

# One closing line for both runs.
"$PY" - "$results" <<'PYEOF'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

totals = dict(tests=0, failures=0, errors=0, skipped=0)
for path in sorted(Path(sys.argv[1]).glob("*.xml")):
    root = ET.parse(path).getroot()
    for suite in root.iter("testsuite"):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
failed = totals["failures"] + totals["errors"]
passed = totals["tests"] - failed - totals["skipped"]
line = f"tests: {passed} passed, {failed} failed, {totals['skipped']} skipped"
Path(sys.argv[1], "summary.txt").write_text(line + "\n")
print(line)
PYEOF

exit "$status"
