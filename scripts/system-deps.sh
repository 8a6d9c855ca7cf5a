#!/usr/bin/env bash
# Install the Debian packages named as arguments, skipping quietly those already present.
# Uses sudo only when not root. Example: scripts/system-deps.sh gettext chromium
set -euo pipefail

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$package")
        fi
    done
else
    echo "system-deps: no dpkg here; make sure these are installed: $*" >&2
    exit 0
fi
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "system-deps: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
    sudo=(sudo)
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
