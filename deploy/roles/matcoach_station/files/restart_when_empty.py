"""Restart the station the moment its mat is empty, or once `--wait-s` has passed whatever is on it.

The deploy runs this on the station itself (ansible.builtin.script): seeing the empty mat and restarting
are a fraction of a second apart, where separate Ansible tasks over SSH left seconds between them, long
enough for the member to lie down again for their next set. A station that has not answered three asks
running has nobody to interrupt; one that misses an answer (busy for a moment) may have a member on the
mat. Prints one JSON line: what the mat was when the restart came (null: the station did not answer),
how long it waited and how many times it asked. Exits with the restart command's status."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

UNANSWERED = 3  # asks running without an answer: nobody is there to interrupt


def mat(url: str) -> str | None:
    """The mat's state from the station's /health (it answers 503 while unhealthy), None if no answer."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code != 503:
            return None
        body = exc.read()
    except (OSError, ValueError):
        return None
    try:
        state = json.loads(body).get("mat")
    except (ValueError, AttributeError):
        return None
    return state if isinstance(state, str) else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="the station's /health")
    p.add_argument("--wait-s", type=float, required=True, help="restart anyway after this long")
    p.add_argument("--every-s", type=float, default=0.2, help="how often to ask")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the restart command")
    args = p.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("no restart command after --")
    start = time.monotonic()
    polls = unanswered = 0
    while True:
        state = mat(args.url)
        polls += 1
        unanswered = unanswered + 1 if state is None else 0
        if state == "empty" or unanswered >= UNANSWERED or time.monotonic() - start >= args.wait_s:
            break
        time.sleep(args.every_s)
    waited_s = time.monotonic() - start
    done = subprocess.run(command)
    print(json.dumps({"mat": state, "waited_s": round(waited_s, 1), "polls": polls}))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
