#!/bin/sh
# One image, several roles: `web`, `worker`, `beat`, `migrate`, or `manage <command>`.
set -eu
cd /app

case "${1:-web}" in
web)
    # Request metrics of every gunicorn process, merged at /metrics (docs/deploy.md
    # "Metrics"): one folder per container, emptied at start.
    export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/prometheus}"
    rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    exec gunicorn agencyguard.wsgi:application \
        --config python:agencyguard.gunicorn \
        --bind "0.0.0.0:${PORT:-8000}" \
        --workers "${GUNICORN_WORKERS:-3}" \
        --threads "${GUNICORN_THREADS:-2}" \
        --timeout "${GUNICORN_TIMEOUT:-60}" \
        --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}" \
        --access-logfile - \
        --max-requests 2000 --max-requests-jitter 200
    ;;
worker)
    exec celery -A agencyguard worker \
        --queues "${CELERY_QUEUES:-default,capture,reports}" \
        --concurrency "${CELERY_CONCURRENCY:-4}" \
        --hostname "${CELERY_HOSTNAME:-worker@%h}" \
        --loglevel "${LOG_LEVEL:-INFO}"
    ;;
beat)
    exec celery -A agencyguard beat \
        --schedule /data/celerybeat-schedule \
        --loglevel "${LOG_LEVEL:-INFO}"
    ;;
migrate)
    exec python manage.py migrate --noinput
    ;;
manage)
    shift
    exec python manage.py "$@"
    ;;
*)
    exec "$@"
    ;;
esac
