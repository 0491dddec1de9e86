#!/usr/bin/env bash
# Sets up a development/CI machine from scratch: a virtualenv with the project and its extras, and the
# real footage used by the pose tests. Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[edge,server,dev]"
PYTHON=.venv/bin/python bash models/fetch_footage.sh
