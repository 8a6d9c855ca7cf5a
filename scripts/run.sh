#!/usr/bin/env bash
# `make run`: set up, migrate, load the demo, then serve the app with a background worker.
# Needs no PostgreSQL or Redis: SQLite and a filesystem broker under var/ by default;
# DATABASE_URL and CELERY_BROKER_URL switch to real services.
set -euo pipefail
cd "$(dirname "$0")/.."

ADDR=${ADDR:-127.0.0.1:8000}
VAR_DIR=${VAR_DIR:-$PWD/var}
PY=.venv/bin/python

bash scripts/system-deps.sh gettext fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
bash scripts/setup.sh

# kombu's filesystem transport needs its folders to exist before the first message.
mkdir -p "$VAR_DIR/broker/queue" "$VAR_DIR/broker/processed" "$VAR_DIR/broker/control"
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py seed_demo --url "http://$ADDR/"

worker_log="$VAR_DIR/worker.log"
.venv/bin/celery -A agencyguard worker -Q default,capture,detection,reports \
    --pool solo --concurrency 1 --loglevel INFO >"$worker_log" 2>&1 &
worker_pid=$!
stop_worker() {
    if kill -0 "$worker_pid" 2>/dev/null; then
        kill -TERM "$worker_pid" 2>/dev/null || true
        wait "$worker_pid" 2>/dev/null || true
    fi
}
trap stop_worker EXIT
echo "Background worker started (pid $worker_pid, log: $worker_log)."
echo "Serving on http://$ADDR/ (Ctrl-C stops the server and the worker)."

"$PY" manage.py runserver "$ADDR"
