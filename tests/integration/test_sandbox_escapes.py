"""Hostile tools against the real sandbox: every test runs an attack from
``tests/assets/attacks/`` through the real console script (`mppoci run`), in
a home of its own, and checks both that the attack failed inside the container
(the tool prints what happened, errno names included) and that the host is
unchanged. Each test is named after the attack it stops.

Packages are built, signed and approved once per permission set and reused:
the entrypoint is the interpreter (`python3`, `/bin/sh`) and the attack is
chosen by the tool's argument, so one package carries every attack script.

Only containers and networks these tests create are contacted; the tool's
attempts to reach a server go to a busybox httpd on a network made here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import platform
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mppoci.audit import events
from tests.conftest import MPPOCI
from tests.engine_listing import list_containers

pytestmark = pytest.mark.integration

ATTACKS = Path(__file__).resolve().parents[1] / "assets" / "attacks"
PASSWORD = "escape suite key password"
NOBODY = "65534:65534"
RUNTIME_IMAGES = {
    "busybox": "mppoci-runtime/busybox:latest",
    "python3": "mppoci-runtime/python3:latest",
}
PACKAGE_LABEL = "dev.mppoci.package"
TEST_LABEL = {"dev.mppoci.test": "sandbox-escapes"}
MPPOCI_REFUSED = 125
KILLED = 137  # 128 + SIGKILL


def _kit(pattern: str) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(ATTACKS.glob(pattern))}


PYTHON_ATTACKS = _kit("*.py")
SHELL_ATTACKS = _kit("*.sh")

# The probe package: a read-only and a read-write folder, and one variable.
PROBE = """\
permissions:
  filesystem:
    - name: data
      path: /data
      access: read
      why: Files the tool reads.
    - name: out
      path: /out
      access: read-write
      why: Where the tool writes its results.
  env:
    - name: DECLARED_VAR
      why: A variable the user may pass.
"""
PIDS = 16
MEMORY = "64Mi"
LIMITS = f"""\
permissions:
  resources:
    memory: {MEMORY}
    pids: {PIDS}
"""
STORAGE_SIZE_MIB = 1
TMP_SIZE_MIB = 4
STORAGE = f"""\
permissions:
  storage:
    - name: cache
      path: /cache
      size: {STORAGE_SIZE_MIB}Mi
      why: Keeps results between runs.
  resources:
    tmp: {TMP_SIZE_MIB}Mi
"""
SHM_TMP_MIB = 4  # /dev/shm is sized like /tmp
SMALL_TMP = f"""\
permissions:
  resources:
    tmp: {SHM_TMP_MIB}Mi
"""
SHORT_TIMEOUT = """\
permissions:
  resources:
    timeout: 2s
"""
LONG_TIMEOUT = """\
permissions:
  resources:
    timeout: 120s
"""

# The control client (busybox's static wget crashes resolving even an address).
FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read())"

SETUID_BUSYBOX = "/opt/suid/busybox"  # busybox picks the applet by argv[0]'s name
ROOT_ONLY_FILE = "/etc/root-only"


def lines(text: str) -> list[tuple[str, str]]:
    """The `LABEL: RESULT` lines an attack prints."""
    out = []
    for line in text.splitlines():
        label, sep, value = line.partition(": ")
        if sep:
            out.append((label, value))
    return out


def outcomes(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return dict(lines(result.stdout))


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


class Suite:
    """One mppoci home for the module: a signing key its trust policy accepts,
    and the packages built so far, keyed by what they contain."""

    def __init__(self, root: Path, docker_client: Any) -> None:
        self.root = root
        self.home = root / "home"
        self.docker = docker_client
        # A publisher of our own, so label filters never see another run's containers.
        self.publisher = f"escape-{secrets.token_hex(4)}"
        self.key_prefix = root / "signer"
        self._packages: dict[str, str] = {}

    def cli(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MPPOCI), *args],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "MPPOCI_HOME": str(self.home),
                "MPPOCI_PASSWORD": PASSWORD,
                **(env or {}),
            },
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str) -> str:
        result = self.cli(*args)
        assert result.returncode == 0, f"mppoci {' '.join(args)}\n{shown(result)}"
        return result.stdout

    def set_up_signing(self) -> None:
        self.ok("key", "generate", "--output-key-prefix", str(self.key_prefix))
        self.ok("trust", "add", f"{self.key_prefix}.pub", "--publisher", self.publisher)

    def package(
        self,
        files: Mapping[str, str],
        manifest_extra: str,
        *,
        runtime: str = "python3",
        entrypoint: tuple[str, ...] = ("python3",),
    ) -> str:
        """Build, sign and approve a package (once per content); return its name."""
        key = json.dumps([sorted(files.items()), manifest_extra, runtime, entrypoint])
        if key in self._packages:
            return self._packages[key]
        tool = "t-" + hashlib.sha256(key.encode()).hexdigest()[:12]
        name = f"{self.publisher}/{tool}"
        folder = self.root / "packages" / tool
        folder.mkdir(parents=True)
        for path, text in files.items():
            (folder / path).write_text(text)
        (folder / "mpp.yaml").write_text(
            f"""\
schemaVersion: 1
name: {name}
version: 1.0.0
description: A hostile tool of the sandbox escape suite.
authors: ["Escape Suite <escape@suite.test>"]
license: Apache-2.0
runtime: {runtime}
entrypoint: {json.dumps(list(entrypoint))}
protocol: cli
tools:
  - name: attack
    description: Tries to get out of its sandbox.
    annotations: {{readOnlyHint: true}}
{manifest_extra}"""
        )
        self.ok("build", str(folder))
        self.ok("sign", name, "--key", f"{self.key_prefix}.key")
        self.ok("approve", name, "--yes")
        self._packages[key] = name
        return name

    def containers(self, name: str) -> list[Any]:
        """What `docker ps -a --filter label=dev.mppoci.package=NAME` lists."""
        return list(list_containers(self.docker, {"label": f"{PACKAGE_LABEL}={name}"}))

    def leftovers(self) -> list[Any]:
        every = list_containers(self.docker, {"label": PACKAGE_LABEL})
        return [
            c for c in every if c.labels.get(PACKAGE_LABEL, "").startswith(self.publisher + "/")
        ]

    def run_tool(
        self,
        files: Mapping[str, str],
        manifest_extra: str,
        *run_args: str,
        runtime: str = "python3",
        entrypoint: tuple[str, ...] = ("python3",),
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`mppoci run NAME *run_args` for the package with these files; checks
        that no container of it is left once mppoci has returned."""
        name = self.package(files, manifest_extra, runtime=runtime, entrypoint=entrypoint)
        result = self.cli("run", name, *run_args, env=env)
        left = self.containers(name)
        assert not left, f"containers of {name} left after the run: {left}\n{shown(result)}"
        return result


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Suite]:
    s = Suite(tmp_path_factory.mktemp("escapes"), docker_client)
    for recipe, image in RUNTIME_IMAGES.items():
        try:
            docker_client.images.get(image)
        except Exception:
            s.ok("runtime", "build", recipe)
    s.set_up_signing()
    yield s
    for container in s.leftovers():  # a failed test must not leave a tool running
        container.remove(force=True)


@pytest.fixture(autouse=True)
def no_container_is_left_behind(suite: Suite) -> Iterator[None]:
    """After every test of this module, the timeout and out-of-memory runs
    included: no container of the suite remains (checked after each test, not
    once, so it holds whatever order the tests run in)."""
    yield
    left = [(c.short_id, c.labels.get(PACKAGE_LABEL), c.status) for c in suite.leftovers()]
    assert left == []


@pytest.fixture(scope="module")
def run_tool(suite: Suite) -> Callable[..., subprocess.CompletedProcess[str]]:
    return suite.run_tool


# --- the filesystem ---------------------------------------------------------


def test_writing_to_the_root_filesystem_and_package_is_refused(
    suite: Suite, run_tool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    planted = f"mppoci-escape-{secrets.token_hex(6)}"
    attempts = (
        f"create:/etc/{planted}",
        "append:/etc/passwd",
        f"mkdir:/usr/{planted}",
        f"create:/{planted}",
        f"create:/pkg/{planted}",
        "append:/pkg/probe.py",
        "unlink:/pkg/write_files.py",
        "chmod:/pkg/probe.py",
        "rename:/pkg/sockets.py",
    )
    result = run_tool(PYTHON_ATTACKS, PROBE, "--", "/pkg/write_files.py", *attempts)
    assert result.returncode == 0, shown(result)
    # Opening a root-owned file to append fails its permission check (EACCES)
    # before the read-only check; everything else meets the read-only mount.
    expected = {a: "EACCES" if a.startswith("append:") else "EROFS" for a in attempts}
    assert outcomes(result) == expected, shown(result)
    assert not Path("/etc", planted).exists() and not Path("/usr", planted).exists()
    assert not Path("/", planted).exists()
    # The package's content on the host (the store) is byte for byte what was signed.
    name = suite.package(PYTHON_ATTACKS, PROBE)
    assert suite.cli("verify", name).returncode == 0


def test_writing_to_a_read_only_mount_is_refused_while_read_write_works(
    tmp_path: Path, run_tool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    # Both folders let anyone write (the tool runs as nobody): only the
    # read-only mount can stop the writes to data.
    data.mkdir()
    data.chmod(0o777)
    (data / "existing.txt").write_text("original\n")
    (data / "existing.txt").chmod(0o666)
    out.mkdir()
    out.chmod(0o777)
    before = {p.name: (p.read_bytes(), p.stat().st_mode) for p in data.iterdir()}
    refused = (
        "create:/data/new.txt",
        "append:/data/existing.txt",
        "truncate:/data/existing.txt",
        "unlink:/data/existing.txt",
        "rename:/data/existing.txt",
        "chmod:/data/existing.txt",
        "mkdir:/data/sub",
    )
    result = run_tool(
        PYTHON_ATTACKS,
        PROBE,
        "--mount",
        f"data={data}",
        "--mount",
        f"out={out}",
        "--",
        "/pkg/write_files.py",
        *refused,
        "create:/out/result.txt",
    )
    assert result.returncode == 0, shown(result)
    got = outcomes(result)
    assert {a: got.get(a) for a in refused} == dict.fromkeys(refused, "EROFS"), shown(result)
    assert got["create:/out/result.txt"] == "OK", shown(result)
    assert (out / "result.txt").read_text() == "written by a sandboxed tool\n"
    assert {p.name: (p.read_bytes(), p.stat().st_mode) for p in data.iterdir()} == before


def test_host_files_that_were_not_bound_are_invisible(
    tmp_path: Path, run_tool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    token = f"marker{secrets.token_hex(8)}"
    secret, data = tmp_path / "secret", tmp_path / "data"
    secret.mkdir()
    (secret / f"secret-{token}").write_text("the host's secret\n")
    data.mkdir()
    (data / f"visible-{token}").write_text("bound on purpose\n")
    result = run_tool(
        PYTHON_ATTACKS,
        PROBE,
        "--mount",
        f"data={data}",
        "--",
        "/pkg/find_marker.py",
        token,
        str(secret),
    )
    assert result.returncode == 0, shown(result)
    found = [value for label, value in lines(result.stdout) if label == "found"]
    # The bound folder is found (the search works); the sibling never is.
    assert found == [f"/data/visible-{token}"], shown(result)
    got = outcomes(result)
    assert int(got["visited"]) > 1000, shown(result)
    assert got["host folder in mountinfo"] == "False", shown(result)
    assert got["host folder reachable"] == "False", shown(result)


def _engine_socket() -> Path:
    """The socket of the engine under test: DOCKER_HOST's (CI's fresh engine
    has its own), else the usual one."""
    host = os.environ.get("DOCKER_HOST", "")
    return (
        Path(host.removeprefix("unix://"))
        if host.startswith("unix://")
        else Path("/var/run/docker.sock")
    )


def _never_bind_targets(suite: Suite, tmp_path: Path) -> dict[str, tuple[str, str]]:
    link = tmp_path / "innocent-looking"
    link.symlink_to("/etc")
    return {
        "root": ("/", "it is the host's root folder"),
        "etc": ("/etc", "it is in /etc, a system folder"),
        "docker-socket": (str(_engine_socket()), "container engine socket"),
        "mppoci-config": (str(suite.home / "config"), "mppoci's own folder"),
        "mppoci-home": (str(suite.home), "mppoci's own folder"),
        "symlink-to-etc": (str(link), "it is in /etc, a system folder"),
    }


@pytest.mark.parametrize(
    "target",
    ["root", "etc", "docker-socket", "mppoci-config", "mppoci-home", "symlink-to-etc"],
)
def test_binding_a_never_bind_host_path_is_refused_by_mppoci(
    target: str,
    suite: Suite,
    tmp_path: Path,
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    host_path, reason = _never_bind_targets(suite, tmp_path)[target]
    assert Path(host_path).exists(), f"{host_path} must exist on the host for this test"
    result = run_tool(
        PYTHON_ATTACKS,
        PROBE,
        "--mount",
        f"data={host_path}",
        "--",
        "/pkg/write_files.py",
        "create:/data/planted",
    )
    assert result.returncode == MPPOCI_REFUSED, shown(result)
    assert "--mount data=" in result.stderr and "is refused" in result.stderr, shown(result)
    assert reason in result.stderr, shown(result)
    assert "create:/data/planted" not in result.stdout  # the tool never ran


# --- the network ------------------------------------------------------------


@dataclass(frozen=True)
class WebServer:
    address: str
    container: Any

    def requests_seen(self) -> int:
        # busybox httpd -vv logs one "url:" line per request on its stderr
        return self.container.logs().decode().count(" url:")


@pytest.fixture(scope="module")
def web_server(suite: Suite, docker_client: Any) -> Iterator[WebServer]:
    """A busybox httpd (serving its /etc) in a container on an internal network
    made here, after a control client on that network has fetched from it."""
    network = docker_client.networks.create(
        f"mppoci-escape-{secrets.token_hex(6)}", driver="bridge", internal=True, labels=TEST_LABEL
    )
    server = None
    try:
        server = docker_client.containers.run(
            RUNTIME_IMAGES["busybox"],
            ["httpd", "-f", "-vv", "-p", "8080", "-h", "/etc"],
            detach=True,
            user=NOBODY,
            cap_drop=["ALL"],
            read_only=True,
            network=network.name,
            labels=TEST_LABEL,
        )
        server.reload()
        address = server.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        assert address, "the server container got no address"
        # Control: an ordinary container on the same network does reach it, so
        # a failure from the tool is the sandbox's doing.
        control = docker_client.containers.run(
            RUNTIME_IMAGES["python3"],
            ["python3", "-c", FETCH, f"http://{address}:8080/passwd"],
            user=NOBODY,
            network=network.name,
            labels=TEST_LABEL,
            remove=True,
        )
        assert b"nobody:x:65534" in control
        web = WebServer(address, server)
        deadline = time.monotonic() + 10
        while web.requests_seen() < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert web.requests_seen() == 1, server.logs()
        yield web
    finally:
        if server is not None:
            server.remove(force=True)
        network.remove()


def test_reaching_a_server_on_another_docker_network_fails(
    web_server: WebServer, run_tool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    result = run_tool(PYTHON_ATTACKS, PROBE, "--", "/pkg/connect.py", web_server.address, "8080")
    assert result.returncode == 0, shown(result)
    got = outcomes(result)
    assert "server answered" not in got, shown(result)
    assert got["tcp connect"] in ("EPERM", "ENETUNREACH"), shown(result)
    assert got["udp send"] in ("EPERM", "ENETUNREACH"), shown(result)
    assert web_server.requests_seen() == 1  # still only the control's request


def test_opening_network_raw_netlink_and_packet_sockets_fails(
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = run_tool(PYTHON_ATTACKS, PROBE, "--", "/pkg/sockets.py")
    assert result.returncode == 0, shown(result)
    got = outcomes(result)
    assert got.pop("unix socketpair") == "OK", shown(result)  # control: sockets as such work
    assert len(got) == 12, shown(result)
    assert got == dict.fromkeys(got, "EPERM"), shown(result)


# --- the kernel -------------------------------------------------------------


def test_mount_unshare_ptrace_keyctl_and_bpf_syscalls_fail(
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    assert platform.machine() == "x86_64", "syscalls.py uses x86_64 syscall numbers"
    result = run_tool(PYTHON_ATTACKS, PROBE, "--", "/pkg/syscalls.py")
    assert result.returncode == 0, shown(result)
    got = outcomes(result)
    assert got.pop("my pid") == "1", shown(result)  # the attach below targets the tool itself
    expected = (
        "mount tmpfs",
        "mount proc",
        "umount2",
        "unshare user+mount",
        "unshare user",
        "unshare net",
        "setns",
        "chroot",
        "pivot_root",
        "init_module",
        "keyctl join session",
        "add_key",
        "bpf map create",
        "ptrace traceme",
        "ptrace attach pid 1",
    )
    assert got == dict.fromkeys(expected, "EPERM"), shown(result)


@pytest.fixture(scope="module")
def setuid_runtime(docker_client: Any) -> Iterator[str]:
    """A test runtime image: the busybox runtime plus a setuid-root busybox and
    a file only root may read. Yields its image ID; removed afterwards."""
    dockerfile = f"""\
FROM {RUNTIME_IMAGES["busybox"]}
LABEL dev.mppoci.test=sandbox-escapes dev.mppoci.test.run={secrets.token_hex(8)}
USER 0:0
RUN mkdir -p {Path(SETUID_BUSYBOX).parent} && cp /bin/busybox {SETUID_BUSYBOX} \\
 && chmod 4755 {SETUID_BUSYBOX} \\
 && echo 'root only' > {ROOT_ONLY_FILE} && chmod 600 {ROOT_ONLY_FILE}
USER {NOBODY}
"""
    image, _ = docker_client.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), rm=True, forcerm=True, nocache=True
    )
    try:
        yield str(image.id)
    finally:
        docker_client.images.remove(image.id, force=True)


def test_setuid_binary_in_the_runtime_gives_no_privileges(
    setuid_runtime: str,
    docker_client: Any,
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    script = ["/bin/sh", "/pkg/setuid.sh", SETUID_BUSYBOX, ROOT_ONLY_FILE]
    # Control, without no-new-privileges but otherwise locked down: the setuid
    # bit works (the saved uid becomes root), so the image is a real threat.
    control = docker_client.containers.run(
        setuid_runtime,
        ["/bin/sh", "-c", SHELL_ATTACKS["setuid.sh"], "setuid.sh", *script[2:]],
        user=NOBODY,
        cap_drop=["ALL"],
        read_only=True,
        network_mode="none",
        labels=TEST_LABEL,
        remove=True,
    ).decode()
    assert "euid via status: Uid:\t65534\t65534\t0\t65534" in control, control

    result = run_tool(
        SHELL_ATTACKS,
        "",
        "--",
        *script[1:],
        runtime=f"busybox@{setuid_runtime}",
        entrypoint=("/bin/sh",),
    )
    assert result.returncode == 0, shown(result)
    got = outcomes(result)
    assert got["mode"].startswith("-rwsr-xr-x"), shown(result)  # the bit is there
    assert got["uid"] == "65534", shown(result)
    assert got["euid via status"] == "Uid:\t65534\t65534\t65534\t65534", shown(result)
    assert got["read root-only file"] == "DENIED", shown(result)


# --- resources ----------------------------------------------------------------


def _host_processes_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline:
            found.append(int(entry.name))
    return found


def test_fork_bomb_is_stopped_by_the_pids_limit(
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    token = f"forkbomb{secrets.token_hex(8)}"
    started = time.monotonic()
    result = run_tool(PYTHON_ATTACKS, LIMITS, "--", "/pkg/fork_bomb.py", token)
    assert time.monotonic() - started < 60, shown(result)
    assert result.returncode == 1, shown(result)  # the bomb gave up; its children died with it
    got = outcomes(result)
    assert got["stopped by"] == "EAGAIN", shown(result)
    # pid 1 plus its children fill the declared limit exactly.
    assert int(got["forked"]) == PIDS - 1, shown(result)
    assert got["token"] == token
    assert _host_processes_with(token) == []  # none of the bomb's processes survived


def test_memory_bomb_is_killed_and_reported_as_out_of_memory(
    suite: Suite, run_tool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    result = run_tool(PYTHON_ATTACKS, LIMITS, "--", "/pkg/memory_bomb.py")
    assert result.returncode == KILLED, shown(result)
    assert f"ran out of memory ({MEMORY})" in result.stderr, shown(result)
    allocated = [int(v.split()[0]) for label, v in lines(result.stdout) if label == "allocated"]
    assert allocated and max(allocated) <= 64, shown(result)
    assert suite.containers(suite.package(PYTHON_ATTACKS, LIMITS)) == []


def test_filling_tmp_stops_at_its_declared_size(
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = run_tool(PYTHON_ATTACKS, STORAGE, "--", "/pkg/fill_disk.py", "/tmp", "64")
    assert result.returncode == 0, shown(result)
    got = outcomes(result)
    assert got["stopped by"] == "ENOSPC", shown(result)
    assert 0 < int(got["written MiB"]) <= TMP_SIZE_MIB, shown(result)


# statfs is outside the sandbox's seccomp profile, so the size is read from
# the mount table the kernel keeps (tmpfs shows size=...k).
SHM_MOUNT_LINE = (
    "print('shm mount:', [l for l in open('/proc/mounts') if ' /dev/shm ' in l][0].split()[3])"
)


def test_dev_shm_is_sized_by_the_declared_tmp_not_dockers_64_mib(
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = run_tool(PYTHON_ATTACKS, SMALL_TMP, "--", "-c", SHM_MOUNT_LINE)
    assert result.returncode == 0, shown(result)
    options = outcomes(result)["shm mount"].split(",")
    assert f"size={SHM_TMP_MIB * 1024}k" in options, shown(result)
    assert {"noexec", "nosuid", "nodev"} <= set(options), shown(result)


def test_filling_dev_shm_stops_at_the_declared_tmp_size(
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    # The attack: use /dev/shm as extra memory-backed disk beyond what was
    # declared (Docker gives every container 64 MiB there by default).
    result = run_tool(PYTHON_ATTACKS, SMALL_TMP, "--", "/pkg/fill_disk.py", "/dev/shm", "64")
    assert result.returncode == 0, shown(result)
    got = outcomes(result)
    assert got["stopped by"] == "ENOSPC", shown(result)
    assert 0 < int(got["written MiB"]) <= SHM_TMP_MIB, shown(result)


def _storage_image(suite: Suite, name: str, volume: str) -> Path:
    tool = name.partition("/")[2]
    found = list(
        (suite.home / "data" / "storage").glob(f"{suite.publisher}-{tool}-*/{volume}.ext4")
    )
    assert len(found) == 1, found
    return found[0]


def test_filling_declared_storage_stops_at_its_declared_size(
    suite: Suite, run_tool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    # A tool that may keep 1Mi must not be able to fill the host's disk.
    name = suite.package(PYTHON_ATTACKS, STORAGE)
    result = run_tool(PYTHON_ATTACKS, STORAGE, "--", "/pkg/fill_disk.py", "/cache", "16")
    assert result.returncode == 0, shown(result)
    got = outcomes(result)
    assert got["stopped by"] in ("ENOSPC", "EDQUOT"), shown(result)
    assert int(got["written MiB"]) <= STORAGE_SIZE_MIB, shown(result)
    image = _storage_image(suite, name, "cache")
    on_host = image.stat().st_blocks * 512
    assert on_host <= (STORAGE_SIZE_MIB + 1) << 20, (
        f"a tool declaring {STORAGE_SIZE_MIB}Mi of storage used {on_host} bytes of the host's disk"
    )


def test_storage_persists_between_runs_and_is_closed_to_other_host_users(
    suite: Suite, run_tool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    name = suite.package(PYTHON_ATTACKS, STORAGE)
    first = run_tool(PYTHON_ATTACKS, STORAGE, "--", "/pkg/write_files.py", "create:/cache/note")
    assert outcomes(first) in ({"create:/cache/note": "OK"}, {"create:/cache/note": "EEXIST"})
    again = run_tool(PYTHON_ATTACKS, STORAGE, "--", "/pkg/write_files.py", "create:/cache/note")
    assert outcomes(again) == {"create:/cache/note": "EEXIST"}, shown(again)  # it persisted
    image = _storage_image(suite, name, "cache")
    chain = [image.parent, image.parent.parent]  # the folders mppoci made for storage
    modes = {str(p): oct(p.stat().st_mode & 0o777) for p in chain}
    assert all(p.stat().st_mode & 0o077 == 0 for p in chain), modes
    assert image.stat().st_mode & 0o077 == 0, oct(image.stat().st_mode)


def test_endless_loop_is_stopped_at_the_timeout_and_its_container_removed(
    suite: Suite, run_tool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    name = suite.package(SHELL_ATTACKS, SHORT_TIMEOUT, runtime="busybox", entrypoint=("/bin/sh",))
    started = time.monotonic()
    result = run_tool(
        SHELL_ATTACKS,
        SHORT_TIMEOUT,
        "--",
        "/pkg/endless_loop.sh",
        runtime="busybox",
        entrypoint=("/bin/sh",),
    )
    elapsed = time.monotonic() - started
    # No "looping" is required on stdout: the clock starts before the container
    # does, and on a loaded machine the start alone can use up the 2 s.
    assert "ran out of time (2s)" in result.stderr, shown(result)
    assert result.returncode == KILLED, shown(result)
    assert elapsed < 30, f"the 2s timeout took {elapsed:.1f}s to act"
    assert suite.containers(name) == []


def test_terminating_mppoci_does_not_leave_the_tool_running(suite: Suite) -> None:
    # An agent host stops a tool by terminating mppoci (SIGTERM). The tool's
    # container must go with it: nothing else would ever enforce its timeout.
    name = suite.package(SHELL_ATTACKS, LONG_TIMEOUT, runtime="busybox", entrypoint=("/bin/sh",))
    process = subprocess.Popen(
        [str(MPPOCI), "run", name, "--", "/pkg/endless_loop.sh"],
        env={**os.environ, "MPPOCI_HOME": str(suite.home)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(c.status == "running" for c in suite.containers(name)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the tool's container never started"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        deadline = time.monotonic() + 5
        while suite.containers(name) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [(c.short_id, c.status) for c in suite.containers(name)]
        assert left == [], f"mppoci was terminated but the tool's container lives on: {left}"
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        for container in suite.containers(name):
            container.remove(force=True)


@pytest.mark.parametrize(
    ("stop_signal", "exit_code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["ctrl-c", "term"],
)
def test_stopping_mppoci_mid_run_does_not_erase_the_run_from_the_audit_log(
    suite: Suite, stop_signal: signal.Signals, exit_code: int
) -> None:
    # A tool stopped by Ctrl-C or SIGTERM has run: the audit log must say so
    # (it used to hold only the verification, as if nothing had run).
    name = suite.package(SHELL_ATTACKS, LONG_TIMEOUT, runtime="busybox", entrypoint=("/bin/sh",))
    marker = f"interrupted-{stop_signal.name}-{secrets.token_hex(4)}"
    process = subprocess.Popen(
        [str(MPPOCI), "run", name, "--", "-c", "sleep 120", marker],
        env={**os.environ, "MPPOCI_HOME": str(suite.home)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(c.status == "running" for c in suite.containers(name)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the tool's container never started"
            time.sleep(0.1)
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == exit_code, stderr
        assert b"Traceback" not in stderr, stderr
        left = [(c.short_id, c.status) for c in suite.containers(name)]
        assert left == [], f"mppoci was stopped but the tool's container lives on: {left}"
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        for container in suite.containers(name):
            container.remove(force=True)
    wanted = events.args_digest(["-c", "sleep 120", marker])
    runs = [
        json.loads(line)["data"]
        for line in (suite.home / "state" / "audit.log").read_text().splitlines()
        if '"event":"run"' in line
    ]
    mine = [r for r in runs if r["argsDigest"] == wanted]
    assert [(r["package"], r["outcome"]) for r in mine] == [(name, "interrupted")], runs
    assert mine[0]["error"] == f"stopped by {stop_signal.name}"
    assert mine[0]["exitCode"] is None
    verified = suite.cli("audit", "verify")
    assert verified.returncode == 0, shown(verified)


def test_flooding_stdout_does_not_fill_the_hosts_disk_with_a_log(suite: Suite) -> None:
    # The output goes to whoever ran mppoci; no copy may pile up on the host
    # (Docker's json-file log keeps six bytes per NUL, without a size limit).
    name = suite.package(PYTHON_ATTACKS, PROBE)
    process = subprocess.Popen(
        [str(MPPOCI), "run", name, "--", "/pkg/flood_output.py", "4", "3"],
        env={**os.environ, "MPPOCI_HOME": str(suite.home)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    largest, seen = 0, False
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            for container in suite.containers(name):
                seen = True
                log_path = container.attrs.get("LogPath") or ""
                with contextlib.suppress(OSError):
                    largest = max(largest, os.stat(log_path).st_size) if log_path else largest
            time.sleep(0.1)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert seen, "the tool's container was never seen running"
    assert largest < 1 << 20, f"the host kept a {largest}-byte log of the tool's 4 MiB output"


# --- environment, engine socket, privileges ---------------------------------


def test_undeclared_host_environment_variables_never_reach_the_tool(
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    secret_value = f"host-secret-{secrets.token_hex(12)}"
    host_env = {"SECRET_HOST_VAR": secret_value, "AWS_SECRET_ACCESS_KEY": secret_value}
    result = run_tool(
        PYTHON_ATTACKS,
        PROBE,
        "--env",
        "DECLARED_VAR=passed on purpose",
        "--",
        "/pkg/env_dump.py",
        env=host_env,
    )
    assert result.returncode == 0, shown(result)
    assert secret_value not in result.stdout + result.stderr
    seen = json.loads(result.stdout)  # the environment the tool was started with
    assert seen["DECLARED_VAR"] == "passed on purpose"  # control: declared ones do pass
    # Only what the image and Docker set, and what was declared.
    assert set(seen) <= {"PATH", "HOME", "HOSTNAME", "DECLARED_VAR"}, seen
    leaked = {k for k in seen if k in os.environ and k not in ("PATH", "HOME", "HOSTNAME")}
    assert leaked == set(), leaked


@pytest.mark.parametrize("env_arg", ["UNDECLARED=1", "SECRET_HOST_VAR"])
def test_passing_an_undeclared_environment_variable_is_refused(
    env_arg: str, run_tool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    secret_value = f"host-secret-{secrets.token_hex(12)}"
    result = run_tool(
        PYTHON_ATTACKS,
        PROBE,
        "--env",
        env_arg,
        "--",
        "/pkg/env_dump.py",
        env={"SECRET_HOST_VAR": secret_value},
    )
    assert result.returncode == MPPOCI_REFUSED, shown(result)
    variable = env_arg.partition("=")[0]
    assert f"does not declare the environment variable(s) {variable}" in result.stderr
    assert result.stdout == "" and secret_value not in result.stderr


def test_the_docker_socket_cannot_be_found_or_reached(
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    assert _engine_socket().is_socket()  # there is one on the host to steal
    # The probe walks the whole filesystem for sockets too, so the engine's
    # socket is not found wherever it lives on the host.
    result = run_tool(PYTHON_ATTACKS, PROBE, "--", "/pkg/docker_socket.py")
    assert result.returncode == 0, shown(result)
    got = outcomes(result)
    assert got["exists /var/run/docker.sock"] == "False", shown(result)
    assert got["exists /run/docker.sock"] == "False", shown(result)
    assert got["exists /run/containerd/containerd.sock"] == "False", shown(result)
    # Absent, and connect(2) is not even offered without a network grant.
    assert got["connect /var/run/docker.sock"] in ("ENOENT", "EPERM"), shown(result)
    assert got["connect /run/docker.sock"] in ("ENOENT", "EPERM"), shown(result)
    assert got["socket files"] == "0", shown(result)


def test_tool_runs_as_nobody_without_capabilities_or_new_privileges(
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = run_tool(PYTHON_ATTACKS, PROBE, "--", "/pkg/identity.py")
    assert result.returncode == 0, shown(result)
    got = outcomes(result)
    assert got["Uid"] == got["Gid"] == "65534 65534 65534 65534", shown(result)
    assert got["Groups"] in ("none", "65534"), shown(result)
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert got[cap] == "0000000000000000", shown(result)
    assert got["NoNewPrivs"] == "1", shown(result)
    assert got["Seccomp"] == "2", shown(result)  # a filter is on
    assert got["visible pids"] == "1", shown(result)  # no host process to signal or trace


def test_binaries_dropped_into_tmp_cannot_be_executed(
    run_tool: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = run_tool(PYTHON_ATTACKS, PROBE, "--", "/pkg/tmp_exec.py")
    assert result.returncode == 0, shown(result)
    got = outcomes(result)
    # Controls: the shell itself runs, and /tmp is writable.
    assert got["run the image's shell"] == "OK", shown(result)
    assert got["copy shell to /tmp"] == got["write script to /tmp"] == "OK", shown(result)
    assert got["chmod +x"] == "OK", shown(result)
    assert got["exec copied shell"] == "EACCES", shown(result)
    assert got["exec script"] == "EACCES", shown(result)
    assert got["execve directly"] == "EACCES", shown(result)
