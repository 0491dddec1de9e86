"""deploy/ passes ansible-lint (profile production, deploy/.ansible-lint), and a release is named by its
content, so building unchanged code again gives the same release."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.deploy_hosts import BIN, DEPLOY


def test_the_playbooks_and_roles_pass_ansible_lint(tmp_path):
    out = subprocess.run([str(BIN / "ansible-lint"), "--offline", "--nocolor"], cwd=DEPLOY, text=True,
                         capture_output=True, timeout=300, env={**os.environ, "ANSIBLE_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "Profile 'production' was required, and it passed" in out.stderr + out.stdout


def test_building_the_same_code_twice_gives_the_same_release(tmp_path):
    def build() -> dict:
        out = subprocess.run([sys.executable, str(DEPLOY / "build_release.py"), "--builds", str(tmp_path)],
                             capture_output=True, text=True, check=True, timeout=300)
        return json.loads(out.stdout)

    first, second = build(), build()
    assert first["new"] and not second["new"] and first["release"] == second["release"]
    release = Path(first["dir"])
    assert json.loads((release / "release.json").read_text())["release"] == first["release"]
    constraints = (release / "constraints.txt").read_text().split()
    assert any(c.startswith("onnxruntime==") for c in constraints)
    assert any(c.startswith("fastapi==") for c in constraints)
    assert not any(c.startswith(("matcoach", "pytest", "ansible")) for c in constraints)
    assert sorted(p.name for p in (release / "models").iterdir()) == ["rep-classifier.onnx",
                                                                      "yolo11n-pose-dyn.onnx"]
