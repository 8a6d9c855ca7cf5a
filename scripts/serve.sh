#!/usr/bin/env bash
# The services of `make run` (scripts/run.sh ends here, after set-up, migrations and the demo
# data): Django's development server, one Celery worker on every queue, and Celery beat, the
# scheduler that sends CELERY_BEAT_SCHEDULE's periodic tasks (re-checks, notice deadlines,
# audit anchors, evidence re-hashing, stale-run sweeps). Without beat none of them runs.
#
# Ctrl-C (SIGINT), SIGTERM or SIGHUP stops all three, and everything they started, then
# exits; so does any one of them exiting on its own. Each service runs in a process group of
# its own (job control), so that stopping a service reaches its children too (runserver's
# auto-reloading child, the worker's pool) and a Ctrl-C in the terminal reaches only this
# script, which stops the services once and in order.
#
# Environment: ADDR (127.0.0.1:8000), VAR_DIR (./var: logs, broker folders, beat's schedule
# file), PY (.venv/bin/python), RUN_BEAT (1; 0 when another beat already serves the same
# broker and database), STOP_GRACE_S (30: how long a warm shutdown may take, the running
# task included, before the rest is killed; a second Ctrl-C kills at once).
set -euo pipefail
cd "$(dirname "$0")/.."

ADDR=${ADDR:-127.0.0.1:8000}
export VAR_DIR=${VAR_DIR:-$PWD/var}
PY=${PY:-.venv/bin/python}
RUN_BEAT=${RUN_BEAT:-1}
STOP_GRACE_S=${STOP_GRACE_S:-30}

# kombu's filesystem transport needs its folders to exist before the first message.
mkdir -p "$VAR_DIR/broker/queue" "$VAR_DIR/broker/processed" "$VAR_DIR/broker/control"

set -m
pids=()
names=()
start() {
    local name=$1
    shift
    "$@" </dev/null &
    pids+=("$!")
    names+=("$name")
}

alive() {
    local pid
    for pid in "${pids[@]}"; do
        kill -0 -- "-$pid" 2>/dev/null && return 0
    done
    return 1
}

say() {
    # The terminal may be gone (SIGHUP): a failed message must not stop the clean-up.
    echo "$@" 2>/dev/null || true
}

force=0
stopping=0
stop() {
    local status=$1 pid deadline
    [ "$stopping" = 1 ] && return
    stopping=1
    # From here on a signal only hurries the clean-up along; it never interrupts it, and
    # neither does an error.
    set +e
    trap 'force=1' INT TERM HUP
    say "Stopping the server, the worker and beat ..."
    for pid in "${pids[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    deadline=$((SECONDS + STOP_GRACE_S))
    while alive && [ "$force" = 0 ] && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.2
    done
    if alive; then
        say "Still running after ${STOP_GRACE_S}s (or a second signal): killing what is left."
        for pid in "${pids[@]}"; do
            kill -KILL -- "-$pid" 2>/dev/null || true
        done
    fi
    wait
    exit "$status"
}
trap 'stop 130' INT
trap 'stop 143' TERM
trap 'stop 129' HUP
# Any other way out (an unexpected error) also takes the services down.
trap 'stop $?' EXIT

worker_log="$VAR_DIR/worker.log"
start worker "$PY" -m celery -A agencyguard worker -Q default,capture,detection,reports \
    --pool solo --concurrency 1 --loglevel INFO >"$worker_log" 2>&1
say "Background worker started (pid ${pids[-1]}, log: $worker_log)."
if [ "$RUN_BEAT" != 0 ]; then
    beat_log="$VAR_DIR/beat.log"
    # The schedule file (CELERY_BEAT_SCHEDULE_FILENAME, under VAR_DIR) keeps each task's last
    # run across restarts, so a daily job stays daily however often `make run` restarts.
    start beat "$PY" -m celery -A agencyguard beat --loglevel INFO >"$beat_log" 2>&1
    say "Scheduler (celery beat) started (pid ${pids[-1]}, log: $beat_log)."
fi
start server "$PY" manage.py runserver "$ADDR"
say "Serving on http://$ADDR/ (Ctrl-C stops the server, the worker and the scheduler)."

# Whichever service exits first (a crash, a port already in use) takes the others with it.
status=0
wait -n || status=$?
for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
        say "The ${names[$i]} stopped (exit status $status); stopping the others."
    fi
done
# A service that stops by itself is a failure, whatever its exit status.
stop "$([ "$status" = 0 ] && echo 1 || echo "$status")"
