"""Test hosts for the deployment tests: each a real `sshd` (Debian's openssh-server) on its own loopback
port, with its own host key and root directory, reached with a key made here; an inventory naming them
as a gym's server and stations; and `ansible-playbook` run against it for real.

The playbooks log in as root and keep everything under the host's `matcoach_root`; the services run as
an unprivileged account, started by tests/deploy_service.py (this machine has no systemd as PID 1).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.procs import all_gone, process_tree
from tests.servers import free_port

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
SAMPLE = REPO / "samples" / "session.jsonl"
BIN = Path(sys.executable).parent
SSHD = Path("/usr/sbin/sshd")
STANDIN = Path(__file__).with_name("deploy_service.py")
# The account the services run as on the test hosts (a Pi's is `matcoach`), made once on this machine.
SERVICE_USER = "mc-deploy-test"
STAFF_PASSWORD = "deploy test staff password"
# How fast the member's recorded session is replayed: its sets take about 32 s, then 6 s of empty mat.
# On a machine at load 3-4 a deploy took over 20 s to reach the restart, after sets replayed at 8x ended.
MEMBER_SPEED = 5.0
# The hosts' directories come to some 2 GB (a venv of ~300 MB in small files per release and host). On a
# disk mounted with `discard`, as this machine's is, deleting them costs minutes; a RAM file system with
# room to spare takes them instead when there is one.
RAM_DIR, RAM_NEEDED = Path("/dev/shm"), 8 * 2**30


def scratch_dir() -> Path:
    """Where the test hosts live: /dev/shm when it has room for them, else /tmp."""
    try:
        if RAM_DIR.is_dir() and shutil.disk_usage(RAM_DIR).free >= RAM_NEEDED:
            return RAM_DIR
    except OSError:
        pass
    return Path("/tmp")


@dataclass
class Host:
    name: str
    root: Path
    ssh_port: int = field(default_factory=free_port)
    port: int = field(default_factory=free_port)  # /health on a station, the HTTP port on the server
    sshd: subprocess.Popen | None = None
    source: dict = field(default_factory=dict)

    @property
    def base(self) -> Path:
        return self.root / "opt/matcoach"

    def current(self) -> str:
        """The release `current` points at ("" for none)."""
        link = self.base / "current"
        return Path(os.readlink(link)).name if link.is_symlink() else ""

    def releases(self) -> list[str]:
        releases = self.base / "releases"
        return sorted(p.name for p in releases.iterdir()) if releases.exists() else []

    def service(self, action: str, unit: str) -> int:
        return subprocess.run([sys.executable, str(STANDIN), "--root", str(self.root), action, unit],
                              capture_output=True, timeout=60).returncode


def health(port: int, path: str = "/health") -> dict | None:
    """The JSON a local health endpoint answers, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())
    except (OSError, ValueError):
        return None


def ensure_service_user() -> None:
    if subprocess.run(["id", SERVICE_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--groups", "video", SERVICE_USER], check=True)


def write_traces(into: Path) -> dict[str, Path]:
    """Two recorded sessions for the stations to replay: an empty mat, and the member's sets followed by a
    stretch of empty mat long enough for a deploy to see it."""
    header, *frames = SAMPLE.read_text().splitlines()
    times = [json.loads(f)["t"] for f in frames]
    empty = into / "empty-mat.jsonl"
    empty.write_text("\n".join([header, *(f for f, t in zip(frames, times, strict=True) if t < 7.0)]) + "\n")
    member = into / "member.jsonl"
    tail = [json.dumps({"t": round(times[-1] + 0.04 * i, 2), "people": []}) for i in range(1, 751)]
    member.write_text("\n".join([header, *frames, *tail]) + "\n")
    return {"empty": empty, "member": member}


class Fleet:
    """A server and three stations in two gyms, each an SSH host of its own."""

    def __init__(self, wheelhouse: Path) -> None:
        # World-traversable: the service account reads the releases and traces under it.
        self.dir = Path(tempfile.mkdtemp(prefix="mcdeploy-", dir=scratch_dir()))
        self.dir.chmod(0o755)
        self.wheelhouse = wheelhouse
        self.builds = self.dir / "builds"
        self.key = self.dir / "id_ed25519"
        self.inventory = self.dir / "inventory"
        self.vault_password = self.dir / "vault-password"
        traces = write_traces(self.dir)
        self.server = Host("gym-server", self.dir / "server")
        self.stations = {
            "north-1": Host("north-1", self.dir / "north-1", source={"path": str(traces["empty"])}),
            "north-2": Host("north-2", self.dir / "north-2",
                            source={"path": str(traces["member"]), "speed": MEMBER_SPEED}),
            "south-1": Host("south-1", self.dir / "south-1", source={"path": str(traces["empty"])}),
        }
        self.hosts = [self.server, *self.stations.values()]
        self.variants: dict[int, str] = {}

    # --- the hosts -----------------------------------------------------------------------------------

    def start(self) -> Fleet:
        ensure_service_user()
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True)
        for host in self.hosts:
            host.root.mkdir(mode=0o755)
            ssh = host.root.parent / f"{host.name}.ssh"
            ssh.mkdir(mode=0o700)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh / "host_key")],
                           check=True)
            shutil.copy(self.key.with_suffix(".pub"), ssh / "authorized_keys")
            config = ssh / "sshd_config"
            config.write_text("\n".join([
                f"Port {host.ssh_port}", "ListenAddress 127.0.0.1", f"HostKey {ssh / 'host_key'}",
                f"AuthorizedKeysFile {ssh / 'authorized_keys'}", f"PidFile {ssh / 'sshd.pid'}",
                "PermitRootLogin prohibit-password", "PasswordAuthentication no",
                "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "LogLevel ERROR",
                "Subsystem sftp internal-sftp", ""]))
            host.sshd = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)],
                                         stdout=subprocess.DEVNULL, stderr=open(ssh / "sshd.log", "wb"))  # noqa: SIM115
        self.vault_password.write_text("only-for-the-deploy-tests\n")
        self.vault_password.chmod(0o600)
        self._write_inventory()
        return self

    def stop(self) -> None:
        for host in self.hosts:
            for unit in ("matcoach-station", "matcoach-server"):
                if (host.root / f"run/deploy-service/{unit}.pid").exists():
                    host.service("stop", unit)
            if host.sshd is not None and host.sshd.poll() is None:
                # The listener and each connection it serves: Ansible's persistent connections end with them.
                tree = process_tree(host.sshd.pid)
                for pid in tree:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
                host.sshd.wait(10)
                all_gone(tree)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- the inventory -------------------------------------------------------------------------------

    def _write_inventory(self) -> None:
        def station(host: Host, title: str) -> dict:
            return {"ansible_port": host.ssh_port, "matcoach_root": str(host.root),
                    "matcoach_health_port": host.port, "matcoach_station_name": title,
                    "matcoach_station_source": {"kind": "trace", "loop": True, "speed": 1.0, **host.source}}

        common = {
            "ansible_host": "127.0.0.1", "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            "ansible_python_interpreter": "/usr/bin/python3",
            # The tests log in as root already: there is no sudo to become with.
            "ansible_become": False,
            "matcoach_user": SERVICE_USER, "matcoach_kiosk_user": SERVICE_USER,
            "matcoach_kiosk_chromium": "/usr/bin/chromium",
            "matcoach_station_packages": [], "matcoach_server_packages": [],
            "matcoach_pip_find_links": str(self.wheelhouse), "matcoach_builds": str(self.builds),
            "matcoach_service_manager": f"/usr/bin/python3 {STANDIN} --root {{{{ matcoach_root }}}}",
            "matcoach_server_url": f"http://127.0.0.1:{self.server.port}",
            "matcoach_heartbeat_s": 1, "matcoach_server_contact_s": 10, "matcoach_health_timeout_s": 40,
            "matcoach_mat_wait_s": 90,
        }
        north, south = ({n: station(h, f"{g.title()} mat {n[-1]}") for n, h in self.stations.items()
                         if n.startswith(g)} for g in ("north", "south"))
        inventory = {"all": {"vars": common, "children": {
            "server": {"hosts": {"gym-server": {"ansible_port": self.server.ssh_port,
                                            "matcoach_root": str(self.server.root),
                                            "matcoach_server_port": self.server.port}}},
            "stations": {"children": {"north": {"hosts": north}, "south": {"hosts": south}}},
        }}}
        self.inventory.mkdir()
        (self.inventory / "hosts.yml").write_text(json.dumps(inventory, indent=2))  # JSON is YAML
        secrets = self.inventory / "group_vars/server"
        secrets.mkdir(parents=True)
        subprocess.run([str(BIN / "ansible-vault"), "encrypt", "--output", str(secrets / "vault.yml"), "-"],
                       input=f'matcoach_staff_password: "{STAFF_PASSWORD}"\n', text=True, check=True,
                       env=self.env(), capture_output=True)

    # --- running the playbooks -----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}",
                "ANSIBLE_CONFIG": str(DEPLOY / "ansible.cfg"),
                "ANSIBLE_VAULT_PASSWORD_FILE": str(self.vault_password), "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_HOME": str(self.dir / "ansible"), "ANSIBLE_DEPRECATION_WARNINGS": "0",
                "ANSIBLE_LOCAL_TEMP": str(self.dir / "ansible/tmp"),
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.dir / "cp"),
                # Connections outlive a run briefly, not the test hosts (Fleet.stop ends them too).
                "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=20s"}

    def command(self, playbook: str, *args: str) -> list[str]:
        return [str(BIN / "ansible-playbook"), "-i", str(self.inventory), playbook, *args]

    def play(self, playbook: str, *args: str, timeout: float = 600) -> Run:
        out = subprocess.run(self.command(playbook, *args), cwd=DEPLOY, env=self.env(), capture_output=True,
                             text=True, timeout=timeout)
        return Run(out.returncode, out.stdout + out.stderr)

    def spawn(self, playbook: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(playbook, *args), cwd=DEPLOY, env=self.env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def release(self, n: int) -> str:
        """Release directory number `n`: slightly different code, as a new commit would be."""
        if n not in self.variants:
            source = self.dir / f"source-{n}"
            for item in ("edge", "server", "matcoach"):
                shutil.copytree(REPO / item, source / item, ignore=shutil.ignore_patterns("__pycache__"))
            for item in ("pyproject.toml", "LICENSE"):
                shutil.copy(REPO / item, source / item)
            with open(source / "matcoach/__init__.py", "a") as f:
                f.write(f"# build {n}\n")
            self.variants[n] = self.build(source)
        return self.variants[n]

    def build(self, source: Path = REPO, models_dir: Path = REPO / "models") -> str:
        """A release directory of `source`, as the playbook would build it."""
        out = subprocess.run([sys.executable, str(DEPLOY / "build_release.py"), "--source", str(source),
                              "--builds", str(self.builds), "--models-dir", str(models_dir)],
                             capture_output=True, text=True, check=True, timeout=300)
        return json.loads(out.stdout)["dir"]


@dataclass
class Run:
    returncode: int
    output: str

    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP: each host's counts (ok, changed, failed, ...)."""
        recap = {}
        for line in self.output.split("PLAY RECAP", 1)[-1].splitlines():
            m = re.match(r"^(\S+)\s+:\s+(.*)$", line.strip())
            if m:
                recap[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
        return recap

