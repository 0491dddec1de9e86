#!/usr/bin/env bash
# Sets up a development/CI machine from scratch: a virtualenv with the project and its extras, the real
# footage used by the pose tests, and Debian's Chromium for the wall screen and the browser tests.
# Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[edge,server,dev]"
PYTHON=.venv/bin/python bash models/fetch_footage.sh

# The wall screen and status page are tested in a real browser: Debian's Chromium, driven by Playwright
# (which is told where it is, so it never downloads a browser of its own).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    else
        echo "setup.sh: chromium is not installed and this is not a root Debian shell;" \
             "install it (apt-get install chromium) for the wall screen and the browser tests" >&2
    fi
fi
