#!/usr/bin/env bash
# `make run`: set up, migrate, load the demo, then serve the app with a background worker and
# the scheduler (scripts/serve.sh).
# Needs no PostgreSQL or Redis: SQLite and a filesystem broker under var/ by default;
# DATABASE_URL and CELERY_BROKER_URL switch to real services.
set -euo pipefail
cd "$(dirname "$0")/.."

export ADDR=${ADDR:-127.0.0.1:8000}
export VAR_DIR=${VAR_DIR:-$PWD/var}
export PY=.venv/bin/python

bash scripts/system-deps.sh gettext fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
bash scripts/setup.sh

"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py seed_demo --url "http://$ADDR/"

exec bash scripts/serve.sh
