#!/usr/bin/env bash
# Sets up a development/CI machine from scratch: a virtualenv with the project and its extras, the real
# footage used by the pose tests, and the Debian packages the tests start for real (see below).
# Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[edge,server,dev,deploy,postgres]"
PYTHON=.venv/bin/python bash models/fetch_footage.sh

# Debian packages the tests start for real: Chromium for the wall screen and the browser tests (driven by
# Playwright, which is told where it is, so it never downloads a browser of its own), openssh-server for
# the deployment tests' SSH hosts (whose releases are virtual environments: python3-venv; their units
# are checked by systemd-analyze: systemd), and PostgreSQL for the server's fleet store.
APT_PACKAGES="chromium fonts-dejavu-core openssh-server postgresql python3-venv systemd"
missing=""
for pkg in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086  # one word per package
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "setup.sh: missing Debian packages:$missing; this is not a root Debian shell," \
             "install them (apt-get install$missing) for the browser, deployment and PostgreSQL tests" >&2
    fi
fi
