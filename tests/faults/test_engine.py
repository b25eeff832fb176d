"""The Docker engine not running, or stopped in the middle of a run.

The system engine is never touched: the test starts a private dockerd of its
own (own socket, data and exec roots, no bridge or iptables), loads the busybox
runtime into it, and kills it while a tool runs. mppoci must end promptly with
a clear error (exit 125), and once the engine is back, nothing of that run may
be left behind after the next run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import MPPOCI, PINNED_RUNTIME, SAMPLE_MANIFEST, run_mppoci, write_package
from tests.faults.conftest import ok

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
OWNER_LABEL = "dev.mppoci.owner"
BRIDGE = "mppoci-fault0"


@dataclass
class Engine:
    root: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.root}/docker.sock"

    def docker(self, *args: str) -> str:
        result = subprocess.run(
            ["docker", "-H", self.host, *args], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self) -> None:
        log = (self.root / "dockerd.log").open("ab")
        self.process = subprocess.Popen(
            [
                "dockerd",
                "--host",
                self.host,
                "--data-root",
                str(self.root / "data"),
                "--exec-root",
                str(self.root / "exec"),
                "--pidfile",
                str(self.root / "dockerd.pid"),
                "--iptables=false",
                "--ip-masq=false",
                # Its own bridge: with --bridge=none, dockerd deletes the
                # interface docker0, which the system engine needs.
                f"--bridge={BRIDGE}",
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            probe = subprocess.run(
                ["docker", "-H", self.host, "version"], capture_output=True, check=False
            )
            if probe.returncode == 0:
                return
            assert self.process.poll() is None, (self.root / "dockerd.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the private engine did not start"
            time.sleep(0.25)

    def kill(self) -> None:
        """SIGKILL the engine: dockerd and the containerd it started."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        pid_file = self.root / "exec" / "containerd" / "containerd.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        (self.root / "dockerd.pid").unlink(missing_ok=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@pytest.fixture
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    # A short path: the socket path must fit in sun_path.
    root = Path(tmp_path_factory.mktemp("eng"))
    subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)
    for command in (
        ["ip", "link", "add", BRIDGE, "type", "bridge"],
        ["ip", "addr", "add", "10.215.255.1/24", "dev", BRIDGE],
        ["ip", "link", "set", BRIDGE, "up"],
    ):
        subprocess.run(command, capture_output=True, check=True)
    e = Engine(root)
    try:
        e.start()
        save = subprocess.Popen(
            ["docker", "save", "mppoci-runtime/busybox:latest"], stdout=subprocess.PIPE
        )
        load = subprocess.run(
            ["docker", "-H", e.host, "load"], stdin=save.stdout, capture_output=True, check=False
        )
        save.wait(timeout=60)
        assert load.returncode == 0, load.stderr
        yield e
    finally:
        with contextlib.suppress(Exception):
            ids = e.docker("ps", "-aq").split()
            if ids:
                e.docker("rm", "-f", *ids)
        e.stop()
        # Shims of containers the killed engine left (they outlive it by design).
        subprocess.run(["pkill", "-9", "-f", f"-address {root}/"], capture_output=True, check=False)
        _unmount_below(root)
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)


def _unmount_below(root: Path) -> None:
    """The engine's mounts (overlays, network namespaces), deepest first."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if m.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


@pytest.fixture
def sleeper(tmp_path: Path) -> Path:
    """A home with an approved package whose tool sleeps, on the busybox runtime."""
    home = tmp_path / "home"
    manifest = SAMPLE_MANIFEST.replace(PINNED_RUNTIME, "busybox").replace(
        '["/bin/sh", "/pkg/run.sh"]', '["/bin/sleep"]'
    )
    folder = write_package(tmp_path / "pkg", manifest)
    ok(run_mppoci(home, "key", "generate", "--output-key-prefix", str(tmp_path / "k")))
    ok(run_mppoci(home, "trust", "add", str(tmp_path / "k.pub"), "--publisher", "acme"))
    ok(run_mppoci(home, "build", str(folder)))
    ok(run_mppoci(home, "sign", "acme/word-count", "--key", str(tmp_path / "k.key")))
    ok(run_mppoci(home, "approve", "acme/word-count", "--yes"))
    return home


def _default_bridge() -> str:
    """The host interface of the engine under test's default network (docker0
    on most machines; CI's fresh engine has a bridge of its own)."""
    out = subprocess.run(
        ["docker", "network", "inspect", "bridge", "--format",
         '{{index .Options "com.docker.network.bridge.name"}}'],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip() or "docker0"


def test_no_engine_is_a_clear_error(sleeper: Path, tmp_path: Path) -> None:
    gone = f"unix://{tmp_path}/nothing-listens.sock"
    result = run_mppoci(sleeper, "run", "acme/word-count", "--", "1", env={"DOCKER_HOST": gone})
    assert result.returncode == 125
    assert "Docker engine is not reachable" in result.stderr
    assert "What to do:" in result.stderr and "Traceback" not in result.stderr


def test_engine_killed_mid_run_ends_the_run_and_leaves_nothing_once_back(
    sleeper: Path, engine: Engine, tmp_path: Path
) -> None:
    bridge = _default_bridge()
    # Its own temporary folder: other runs on the host never change what it sees.
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {
        **os.environ,
        "MPPOCI_HOME": str(sleeper),
        "DOCKER_HOST": engine.host,
        "TMPDIR": str(tmp),
    }
    run = subprocess.Popen(
        [str(MPPOCI), "run", "acme/word-count", "--", "60"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not engine.docker("ps", "-q", "--filter", f"label={OWNER_LABEL}").strip():
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the tool never started"
        time.sleep(0.1)
    engine.kill()
    _, stderr = run.communicate(timeout=60)  # ends on its own, well before the tool would
    assert run.returncode == 125, stderr
    assert "Traceback" not in stderr
    assert "the Docker engine stopped answering during the run" in stderr, stderr
    assert list(tmp.iterdir()) == []  # its temporary folders are gone

    engine.start()
    # The next run sweeps what the killed engine could not remove.
    result = run_mppoci(
        sleeper, "run", "acme/word-count", "--", "0", env={"DOCKER_HOST": engine.host}
    )
    assert result.returncode == 0, result.stderr
    assert engine.docker("ps", "-aq", "--filter", f"label={OWNER_LABEL}").strip() == ""
    assert engine.docker("network", "ls", "-q", "--filter", f"label={OWNER_LABEL}").strip() == ""
    # The system engine's bridge is untouched by the private one.
    assert subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode == 0
