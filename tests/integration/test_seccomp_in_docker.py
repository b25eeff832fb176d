"""The composed seccomp profiles under the real engine, with every hardening flag.

The workloads here are also what ``seccomp/minimise.py`` re-runs while it drops
names, so a name the profiles keep is one these workloads (or a documented
reason) need. Only containers and networks the tests create are contacted.
"""

from __future__ import annotations

import contextlib
import errno
import json
import platform
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import docker.errors
import pytest
import requests

from mppoci.policy.seccomp import Group, SyscallGroup, compose, groups_for, profile_text

pytestmark = pytest.mark.integration

PYTHON_IMAGE = "mppoci-runtime/python3:latest"
BUSYBOX_IMAGE = "mppoci-runtime/busybox:latest"
NODE_IMAGE = "mppoci-runtime/node:latest"
NOBODY = "65534:65534"

# What a plain Python tool does: files, json, hashing, tempfiles, threads,
# subprocesses, signals, an asyncio loop over a socketpair, multiprocessing
# (pipes, a pool and a queue: semaphores in /dev/shm), sqlite and tar files.
PYTHON_SCRIPT = r"""
import asyncio, hashlib, json, logging, multiprocessing, os, selectors, shutil, signal, socket
import sqlite3, subprocess, sys, tarfile, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

with open("/etc/os-release", encoding="utf-8") as f:
    assert "debian" in f.read().lower()
assert "etc" in os.listdir("/") and os.stat("/etc/passwd").st_size > 0
assert any(e.name == "json" for e in os.scandir("/usr/lib/python3.11"))
assert sum(len(files) for _, _, files in os.walk("/usr/lib/python3.11/json")) > 3
assert list(Path("/etc").glob("pass*")) and os.path.realpath("/bin").startswith("/")
assert os.getcwd() == "/" and os.getuid() == 65534 and os.cpu_count()
assert shutil.which("sh") and os.access("/bin/sh", os.X_OK) and socket.gethostname()
assert time.localtime().tm_year > 2000 and time.process_time() >= 0 and time.monotonic() > 0
# asyncio and selectors silently fall back to poll() when epoll is refused
assert isinstance(selectors.DefaultSelector(), selectors.EpollSelector)

doc = json.loads(json.dumps({"words": ["a", "b"], "n": 2}))
digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
assert len(digest) == 64 and len(os.urandom(16)) == 16 and time.time() > 0
big = bytearray()
for _ in range(64):
    big += bytes(1 << 20)
assert len(big) == 64 << 20
del big

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "a.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("hello")
        f.flush()
        os.fsync(f.fileno())
    os.rename(path, path + ".moved")
    shutil.copy2(path + ".moved", os.path.join(d, "copy.txt"))
    os.makedirs(os.path.join(d, "sub", "dir"))
    os.utime(os.path.join(d, "copy.txt"), (1, 1))
    with open(os.path.join(d, "copy.txt"), encoding="utf-8") as f:
        assert f.read() == "hello"
    with tarfile.open(os.path.join(d, "t.tar.gz"), "w:gz") as tar:
        tar.add(os.path.join(d, "sub"), arcname="sub")
        tar.add(os.path.join(d, "copy.txt"), arcname="copy.txt")
    with tarfile.open(os.path.join(d, "t.tar.gz")) as tar:
        tar.extractall(os.path.join(d, "out"))  # 3.11.2 predates filter=
    assert os.path.isdir(os.path.join(d, "out", "sub", "dir"))
    db = sqlite3.connect(os.path.join(d, "db.sqlite"))
    db.execute("create table t (k text primary key, v integer)")
    with db:
        db.executemany("insert into t values (?, ?)", [(str(i), i) for i in range(100)])
    assert db.execute("select sum(v) from t").fetchone() == (4950,)
    db.close()
    log = logging.getLogger("tool")
    log.addHandler(logging.FileHandler(os.path.join(d, "tool.log")))
    log.warning("logged")
    shutil.rmtree(os.path.join(d, "out"))
with tempfile.NamedTemporaryFile("w+", encoding="utf-8") as f:
    f.write("x" * 10000)
    f.seek(0)
    assert len(f.read()) == 10000

squares = []
lock = threading.Lock()
def square(i):
    with lock:
        squares.append(i * i)
threads = [threading.Thread(target=square, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert sorted(squares) == [0, 1, 4, 9]
with ThreadPoolExecutor(max_workers=4) as pool:
    assert sum(pool.map(abs, range(-5, 5))) == 25
done = threading.Event()
threading.Timer(0.01, done.set).start()
assert done.wait(5)
cond = threading.Condition()
with cond:
    assert not cond.wait(0.01)

caught = []
signal.signal(signal.SIGUSR1, lambda signum, frame: caught.append(signum))
os.kill(os.getpid(), signal.SIGUSR1)
signal.signal(signal.SIGALRM, lambda signum, frame: caught.append(signum))
signal.setitimer(signal.ITIMER_REAL, 0.01)
time.sleep(0.2)
signal.alarm(1)
signal.alarm(0)
assert caught == [signal.SIGUSR1, signal.SIGALRM], caught

subprocess.run(["/bin/true"], check=True)
subprocess.run([sys.executable, "-c", "pass"], check=True)
out = subprocess.run(["/bin/sh", "-c", "echo piped"], capture_output=True, text=True, check=True)
assert out.stdout == "piped\n"
out = subprocess.run(["cat"], input="through", capture_output=True, text=True, timeout=10)
assert out.stdout == "through"
try:
    subprocess.run(["sleep", "5"], timeout=0.1)
    raise AssertionError("no timeout")
except subprocess.TimeoutExpired:
    pass

async def main():
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    await loop.sock_sendall(a, b"ping")
    assert await loop.sock_recv(b, 4) == b"ping"
    reader, writer = await asyncio.open_connection(sock=b)
    a.send(b"line\n")
    assert await reader.readline() == b"line\n"
    writer.close()
    a.close()
    await asyncio.sleep(0.01)
    await loop.run_in_executor(None, time.sleep, 0.01)
    proc = await asyncio.create_subprocess_exec(
        "cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert (await proc.communicate(b"async"))[0] == b"async"
    assert await asyncio.wait_for(asyncio.sleep(0.01, "late"), 5) == "late"

asyncio.run(main())

def produce(conn):
    conn.send(sum(range(10)))
    conn.close()

def put(queue):
    queue.put("queued")

parent, kid = multiprocessing.Pipe()
proc = multiprocessing.Process(target=produce, args=(kid,))
proc.start()
assert parent.recv() == 45
proc.join()
assert proc.exitcode == 0
queue = multiprocessing.Queue()
proc = multiprocessing.Process(target=put, args=(queue,))
proc.start()
assert queue.get(timeout=10) == "queued"
proc.join()
with multiprocessing.Pool(2) as pool:
    assert pool.map(abs, [-1, -2, 3]) == [1, 2, 3]
print("OK")
"""

# What a Node.js tool does (an MCP server on stdio, say): files sync and async, a
# gzip stream, crypto, timers, a worker thread with shared memory, child
# processes (a shell, another node, fork with its IPC channel, a killed sleep).
# An HTTP server cannot listen: bind and listen are refused, as a clean error.
NODE_SCRIPT = r"""
const assert = require("node:assert");
const childProcess = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const fsp = require("node:fs/promises");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const zlib = require("node:zlib");
const { Worker } = require("node:worker_threads");

async function main() {
  assert.ok(process.versions.node.split(".")[0] >= 18);
  assert.strictEqual(process.getuid(), 65534);
  assert.ok(os.cpus().length > 0 && os.totalmem() > 0 && os.hostname());
  assert.ok(fs.readFileSync("/etc/os-release", "utf8").toLowerCase().includes("debian"));
  // files, sync and async
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tool-"));
  fs.writeFileSync(path.join(dir, "a.txt"), "hello");
  fs.renameSync(path.join(dir, "a.txt"), path.join(dir, "b.txt"));
  fs.copyFileSync(path.join(dir, "b.txt"), path.join(dir, "c.txt"));
  fs.symlinkSync("c.txt", path.join(dir, "link"));
  assert.strictEqual(fs.readlinkSync(path.join(dir, "link")), "c.txt");
  await fsp.mkdir(path.join(dir, "sub", "deep"), { recursive: true });
  await fsp.writeFile(path.join(dir, "sub", "deep", "d.json"), JSON.stringify({ n: 2 }));
  const names = (await fsp.readdir(dir, { withFileTypes: true })).map((e) => e.name).sort();
  assert.deepStrictEqual(names, ["b.txt", "c.txt", "link", "sub"]);
  const st = await fsp.stat(path.join(dir, "c.txt"));
  assert.strictEqual(st.size, 5);
  await fsp.utimes(path.join(dir, "c.txt"), 1, 1);
  await fsp.chmod(path.join(dir, "c.txt"), 0o600);
  await fsp.appendFile(path.join(dir, "c.txt"), " world");
  assert.strictEqual(await fsp.readFile(path.join(dir, "c.txt"), "utf8"), "hello world");
  assert.strictEqual(await fsp.realpath(path.join(dir, "link")), path.join(dir, "c.txt"));
  const handle = await fsp.open(path.join(dir, "big"), "w+");
  await handle.write(Buffer.alloc(1 << 20, 7));
  await handle.sync();
  await handle.truncate(1000);
  await handle.close();
  await new Promise((resolve, reject) =>
    fs.createReadStream(path.join(dir, "big"))
      .pipe(zlib.createGzip())
      .pipe(fs.createWriteStream(path.join(dir, "big.gz")))
      .on("finish", resolve)
      .on("error", reject),
  );
  assert.strictEqual(zlib.gunzipSync(fs.readFileSync(path.join(dir, "big.gz"))).length, 1000);
  await fsp.rm(dir, { recursive: true });
  // crypto, timers, promises
  assert.strictEqual(crypto.createHash("sha256").update("x").digest("hex").length, 64);
  assert.strictEqual(crypto.randomBytes(16).length, 16);
  assert.ok(crypto.randomUUID());
  await new Promise((resolve) => crypto.pbkdf2("pw", "salt", 1000, 32, "sha256", resolve));
  await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setImmediate(resolve));
  let ticks = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => { if (++ticks === 3) { clearInterval(timer); resolve(); } }, 5);
  });
  // worker threads with a message channel and shared memory
  const shared = new Int32Array(new SharedArrayBuffer(4));
  const answer = await new Promise((resolve, reject) => {
    const worker = new Worker(
      "const { parentPort, workerData } = require('node:worker_threads');" +
        "Atomics.add(workerData, 0, 5);" +
        "parentPort.on('message', (n) => { parentPort.postMessage(n * 2); parentPort.close(); });",
      { eval: true, workerData: shared },
    );
    worker.on("message", resolve);
    worker.on("error", reject);
    worker.postMessage(21);
  });
  assert.strictEqual(answer, 42);
  assert.strictEqual(Atomics.load(shared, 0), 5);
  // child processes: spawn with pipes, a shell, execFile, another node, a signal
  const out = childProcess.execFileSync("/bin/sh", ["-c", "echo piped; cat"], { input: "in" });
  assert.strictEqual(out.toString(), "piped\nin");
  assert.strictEqual(childProcess.execSync("echo $((6 * 7))").toString(), "42\n");
  const nodeKid = childProcess.spawnSync(process.execPath, ["-e", "console.log(1 + 1)"]);
  assert.strictEqual(nodeKid.stdout.toString(), "2\n", nodeKid.stderr.toString());
  await new Promise((resolve, reject) => {
    const kid = childProcess.spawn("sleep", ["10"]);
    kid.on("exit", (code, signal) =>
      signal === "SIGTERM" ? resolve() : reject(new Error(`${code} ${signal}`)));
    setTimeout(() => kid.kill("SIGTERM"), 20);
  });
  const forked = await new Promise((resolve, reject) => {
    const childFile = path.join(os.tmpdir(), "child.js");
    fs.writeFileSync(
      childFile, "process.on('message', (m) => { process.send(m + 1); process.disconnect(); });");
    const kid = childProcess.fork(childFile);
    kid.on("message", resolve);
    kid.on("error", reject);
    kid.send(1);
  });
  assert.strictEqual(forked, 2);
  // a signal to itself, handled
  await new Promise((resolve) => {
    process.once("SIGUSR2", resolve);
    process.kill(process.pid, "SIGUSR2");
  });
  // an http server: listening is refused by the profile (no bind/listen), as a clean error
  const listened = await new Promise((resolve) => {
    const server = http.createServer((req, res) => res.end("hi"));
    server.on("error", (e) => resolve(e.code));
    server.listen(0, "127.0.0.1", () => { server.close(); resolve("listening"); });
  });
  console.log("listen: " + listened);
  console.log("OK");
}

main().catch((e) => { console.error(e); process.exit(1); });
"""

BUSYBOX_SCRIPT = "echo hi; ls /; cat /etc/passwd"

# More of busybox: what a shell-script tool on the busybox runtime does.
BUSYBOX_TOOLS_SCRIPT = (
    "set -e; d=$(mktemp -d); cd $d; echo hello > a; cp a b; mv b c; mkdir -p x/y; "
    "ln -s c l; cat l | tr a-z A-Z | sed s/L/l/g | sort | uniq | head -n 1; "
    "tar -czf t.tgz a c x; mkdir out; tar -xzf t.tgz -C out; test -d out/x/y; "
    "find . -name c | xargs wc -c > /dev/null; awk 'BEGIN { print 6 * 7 }'; "
    "sleep 0.05 & wait; date > /dev/null; grep -q nobody /etc/passwd; "
    "chmod 600 a; touch -d 2020-01-01 a; cd /; rm -r $d; id -u; echo done"
)

# A Debian shell script with the coreutils a packaged tool's run.sh would use.
SHELL_SCRIPT = (
    "set -e; d=$(mktemp -d); echo hello > $d/a; cp $d/a $d/b; mv $d/b $d/c; "
    "cat $d/c | tr a-z A-Z | sort | head -n 1; ls -la / > /dev/null; "
    "find /etc -maxdepth 1 -name passwd; wc -l < /etc/passwd > /dev/null; date > /dev/null; "
    "tar -czf $d/t.tgz -C /etc passwd group; mkdir $d/x; tar -xzf $d/t.tgz -C $d/x; "
    "sed -n 1p $d/x/passwd | cut -d: -f1 | grep -q root; awk 'END { print NR }' $d/x/group "
    "> /dev/null; touch $d/a; chmod 600 $d/a; ln -s $d/a $d/l; readlink -f $d/l > /dev/null; "
    "sleep 0.05; rm -r $d; id -u; env > /dev/null; uname -m > /dev/null; "
    "bash -c 'set -e; x=$(echo hi); [[ $x == hi ]]; sleep 0.05 & wait; test -x /bin/sh; "
    "command -v ls > /dev/null; read -r line < /etc/passwd; ulimit -n > /dev/null; "
    "echo done'"
)

# Each probe prints the errno of one attempt (0: it worked).
SOCKET_PROBES = r"""
import json, socket
def attempt(*args):
    try:
        socket.socket(*args).close()
        return 0
    except OSError as e:
        return e.errno
def pair(family):
    try:
        a, b = socket.socketpair(family)
        a.close(); b.close()
        return 0
    except OSError as e:
        return e.errno
print(json.dumps({
    "unix": attempt(socket.AF_UNIX, socket.SOCK_STREAM),
    "unix_dgram": attempt(socket.AF_UNIX, socket.SOCK_DGRAM),
    "unix_pair": pair(socket.AF_UNIX),
    "inet_pair": pair(socket.AF_INET),
    "inet_stream": attempt(socket.AF_INET, socket.SOCK_STREAM),
    "inet_stream_flags": attempt(
        socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
    ),
    "inet_tcp": attempt(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP),
    "inet_dgram": attempt(socket.AF_INET, socket.SOCK_DGRAM),
    "inet6_stream": attempt(socket.AF_INET6, socket.SOCK_STREAM),
    "inet6_udp": attempt(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP),
    "inet_raw": attempt(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
    "inet6_raw": attempt(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
    "inet_seqpacket": attempt(socket.AF_INET, socket.SOCK_SEQPACKET),
    "inet_sctp": attempt(socket.AF_INET, socket.SOCK_STREAM, 132),
    "inet_ping": attempt(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
    "netlink": attempt(socket.AF_NETLINK, socket.SOCK_RAW, 0),
    "netlink_dgram": attempt(socket.AF_NETLINK, socket.SOCK_DGRAM, 0),
    "packet": attempt(socket.AF_PACKET, socket.SOCK_RAW, 0),
    "packet_dgram": attempt(socket.AF_PACKET, socket.SOCK_DGRAM, 0),
}))
"""

# Dangerous syscalls by x86_64 number, with harmless arguments; prints each errno.
SYSCALL_PROBES = r"""
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long
def call(number, *args):
    ctypes.set_errno(0)
    result = libc.syscall(L(number), *[L(a) for a in args])
    if result == 0 and number == 56:
        import os
        os._exit(0)  # a clone that should have been refused: end the child
    return 0 if result != -1 else ctypes.get_errno()
print(json.dumps({
    "unshare": call(272, 0x10000000),
    "mount": call(165, 0, 0, 0, 0, 0),
    "umount2": call(166, 0, 0),
    "ptrace": call(101, 0, 0, 0, 0),
    "keyctl": call(250, 0, -3, 0),
    "add_key": call(248, 0, 0, 0, 0, 0),
    "bpf": call(321, 0, 0, 0),
    "setns": call(308, -1, 0),
    "perf_event_open": call(298, 0, 0, -1, -1, 0),
    "userfaultfd": call(323, 0),
    "io_uring_setup": call(425, 1, 0),
    "personality": call(135, 0xFFFFFFFF),
    "chroot": call(161, 0),
    "pivot_root": call(155, 0, 0),
    "process_vm_readv": call(310, 1, 0, 0, 0, 0, 0),
    "init_module": call(175, 0, 0, 0),
    "clone_newuser": call(56, 0x10000000 | 17, 0, 0, 0, 0),
    "clone3": call(435, 0, 0),
}))
"""

DENIED_BY_PROBE = (
    "unshare",
    "mount",
    "umount2",
    "ptrace",
    "keyctl",
    "add_key",
    "bpf",
    "setns",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "personality",
    "chroot",
    "pivot_root",
    "process_vm_readv",
    "init_module",
    "clone_newuser",
)

# An HTTP client, run against a server container on a network the test makes.
HTTP_CLIENT_SCRIPT = r"""
import asyncio, sys, urllib.request
server = sys.argv[1]
with urllib.request.urlopen(f"http://{server}:8080/passwd", timeout=10) as response:
    assert b"nobody" in response.read()
async def fetch():
    reader, writer = await asyncio.open_connection(server, 8080)
    writer.write(b"GET /group HTTP/1.0\r\n\r\n")
    await writer.drain()
    assert b"200" in await reader.readline()
    writer.close()
    await writer.wait_closed()
asyncio.run(asyncio.wait_for(fetch(), 10))
print("OK")
"""


# Node's own HTTP client and fetch(), against a server container the test makes.
NODE_HTTP_CLIENT_SCRIPT = r"""
const http = require("node:http");
const server = process.argv[1];
async function main() {
  const body = await new Promise((resolve, reject) => {
    http.get(`http://${server}:8080/passwd`, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve(text));
    }).on("error", reject);
  });
  if (!body.includes("nobody")) throw new Error("no passwd");
  const response = await fetch(`http://${server}:8080/group`);
  if (response.status !== 200 || !(await response.text()).includes("nogroup")) {
    throw new Error("fetch failed");
  }
  console.log("OK");
}
main().catch((e) => { console.error(e); process.exit(1); });
"""

# A 32-bit system call (int 0x80) from a 64-bit process: the profile lists the
# native architecture only, so the kernel kills the process with SIGSYS.
INT80_SCRIPT = r"""
import ctypes, mmap
code = bytes([0xB8, 0x14, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax, 20 (i386 getpid); int 0x80; ret
buf = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(code)
address = ctypes.addressof(ctypes.c_char.from_buffer(buf))
print("getpid", ctypes.CFUNCTYPE(ctypes.c_int)(address)(), flush=True)
"""


@dataclass(frozen=True)
class Workload:
    """A command that must exit 0 and print every ``expect`` text under ``groups``."""

    name: str
    groups: tuple[Group, ...]
    image: str
    command: tuple[str, ...]
    expect: tuple[str, ...]
    network: str = "none"
    # A syscall refused with EPERM often shows only as a warning on stderr
    # (bash, coreutils): a quiet workload must print nothing there.
    quiet: bool = True


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def shows(self, workload: Workload) -> bool:
        if workload.quiet and self.stderr:
            return False
        return self.exit_code == 0 and all(text in self.stdout for text in workload.expect)


@dataclass
class Sandbox:
    """The hardening flags every mppoci container gets; ``extra`` overrides some for controls."""

    client: Any
    extra: dict[str, Any] = field(default_factory=dict)
    timeout: int = 120

    def run(
        self,
        image: str,
        command: tuple[str, ...] | list[str],
        seccomp: str | None,
        *,
        network: str = "none",
    ) -> Outcome:
        security = ["no-new-privileges"]
        if seccomp is not None:
            security.append("seccomp=" + seccomp)
        options: dict[str, Any] = {
            "read_only": True,
            "cap_drop": ["ALL"],
            "security_opt": security,
            "user": NOBODY,
            "network_mode": network,
            "tmpfs": {"/tmp": "rw,noexec,nosuid,size=64m"},
            "pids_limit": 256,
            "mem_limit": "512m",
            "labels": {"dev.mppoci.test": "seccomp"},
            **self.extra,
        }
        container = self.client.containers.create(image, list(command), **options)
        try:
            try:
                # runc applies the filter before exec: if the profile starves runc
                # itself, start fails. That is a failed attempt, not a test error.
                container.start()
            except docker.errors.APIError as e:
                return Outcome(-1, "", f"the container did not start: {e}")
            try:
                status = container.wait(timeout=self.timeout)
            except requests.exceptions.RequestException:  # a hang fails too; then clean up
                return Outcome(-1, "", f"timed out after {self.timeout}s")
            stdout = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
            stderr = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
            return Outcome(int(status["StatusCode"]), stdout, stderr)
        finally:
            container.remove(force=True)

    def attempt(self, workload: Workload, seccomp: str) -> Outcome:
        return self.run(workload.image, workload.command, seccomp, network=workload.network)


def python_workload() -> Workload:
    return Workload(
        "python",
        groups_for(network=False),
        PYTHON_IMAGE,
        ("python3", "-c", PYTHON_SCRIPT),
        ("OK\n",),
    )


def busybox_workload() -> Workload:
    return Workload(
        "busybox",
        (SyscallGroup.BASE,),
        BUSYBOX_IMAGE,
        ("sh", "-c", BUSYBOX_SCRIPT),
        ("hi\n", "proc\n", "nobody:x:65534"),
    )


def busybox_tools_workload() -> Workload:
    return Workload(
        "busybox-tools",
        (SyscallGroup.BASE,),
        BUSYBOX_IMAGE,
        ("sh", "-c", BUSYBOX_TOOLS_SCRIPT),
        ("HEllO\n42\n65534\ndone\n",),
    )


def shell_workload() -> Workload:
    return Workload(
        "debian-shell",
        (SyscallGroup.BASE,),
        PYTHON_IMAGE,
        ("/bin/sh", "-c", SHELL_SCRIPT),
        ("HELLO\n/etc/passwd\n65534\ndone\n",),
    )


def node_workload() -> Workload:
    return Workload(
        "node",
        groups_for(network=False, runtime="node"),
        NODE_IMAGE,
        ("node", "-e", NODE_SCRIPT),
        ("listen: EPERM\nOK\n",),
    )


def node_http_client_workload(server: str, network: str) -> Workload:
    return Workload(
        "node-http-client",
        groups_for(network=True, runtime="node"),
        NODE_IMAGE,
        ("node", "-e", NODE_HTTP_CLIENT_SCRIPT, server),
        ("OK\n",),
        network=network,
    )


def http_client_workload(server: str, network: str) -> Workload:
    return Workload(
        "http-client",
        groups_for(network=True),
        PYTHON_IMAGE,
        ("python3", "-c", HTTP_CLIENT_SCRIPT, server),
        ("OK\n",),
        network=network,
    )


@contextlib.contextmanager
def http_server(client: Any) -> Iterator[tuple[str, str]]:
    """A busybox httpd serving /etc on a fresh internal network: yields (address, network)."""
    network = client.networks.create(
        f"mppoci-seccomp-{uuid.uuid4().hex[:12]}",
        driver="bridge",
        internal=True,
        labels={"dev.mppoci.test": "seccomp"},
    )
    server = None
    try:
        server = client.containers.run(
            BUSYBOX_IMAGE,
            ["httpd", "-f", "-p", "8080", "-h", "/etc"],
            detach=True,
            user=NOBODY,
            cap_drop=["ALL"],
            read_only=True,
            network=network.name,
            labels={"dev.mppoci.test": "seccomp"},
        )
        server.reload()
        address = server.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        assert address, "the server container got no address"
        yield address, network.name
    finally:
        if server is not None:
            server.remove(force=True)
        network.remove()


def text_for(groups: tuple[Group, ...], folder: Path | None = None) -> str:
    return profile_text(compose(groups, folder=folder))


@pytest.fixture(scope="module")
def sandbox(docker_client: Any) -> Sandbox:
    for image, recipe in ((PYTHON_IMAGE, "python3"), (BUSYBOX_IMAGE, "busybox")):
        try:
            docker_client.images.get(image)
        except docker.errors.ImageNotFound:
            pytest.fail(f"{image} is missing: run `.venv/bin/mppoci runtime build {recipe}`")
    return Sandbox(docker_client)


def _assert_shows(outcome: Outcome, workload: Workload) -> None:
    assert outcome.shows(workload), (
        f"{workload.name} failed under {[g.value for g in workload.groups]}: "
        f"exit {outcome.exit_code}\nstdout:\n{outcome.stdout}\nstderr:\n{outcome.stderr}"
    )


def _probe(sandbox: Sandbox, script: str, groups: tuple[Group, ...]) -> dict[str, int]:
    outcome = sandbox.run(PYTHON_IMAGE, ("python3", "-c", script), text_for(groups))
    assert outcome.exit_code == 0, outcome.stderr
    result: dict[str, int] = json.loads(outcome.stdout)
    return result


def test_python_tool_runs_its_whole_workload_without_network(sandbox: Sandbox) -> None:
    workload = python_workload()
    _assert_shows(sandbox.attempt(workload, text_for(workload.groups)), workload)


def test_busybox_shell_runs_under_the_base_profile_alone(sandbox: Sandbox) -> None:
    workload = busybox_workload()
    _assert_shows(sandbox.attempt(workload, text_for(workload.groups)), workload)


def test_busybox_tools_run_under_the_base_profile_alone(sandbox: Sandbox) -> None:
    workload = busybox_tools_workload()
    _assert_shows(sandbox.attempt(workload, text_for(workload.groups)), workload)


def test_debian_shell_script_with_coreutils_runs_under_the_base_profile(sandbox: Sandbox) -> None:
    workload = shell_workload()
    _assert_shows(sandbox.attempt(workload, text_for(workload.groups)), workload)


def test_no_network_profile_refuses_every_socket_but_unix(sandbox: Sandbox) -> None:
    got = _probe(sandbox, SOCKET_PROBES, groups_for(network=False))
    assert got["unix"] == got["unix_dgram"] == got["unix_pair"] == 0, got
    # Without the filter AF_INET, AF_INET6 and netlink sockets need no privilege,
    # even with --network none: EPERM here is the profile's doing.
    refused = {name: code for name, code in got.items() if not name.startswith("unix")}
    assert refused == dict.fromkeys(refused, errno.EPERM), got


def test_dangerous_syscalls_are_refused_and_clone3_reports_enosys(sandbox: Sandbox) -> None:
    assert platform.machine() == "x86_64", (
        f"the syscall probes use x86_64 numbers; this machine is {platform.machine()}: "
        "add that architecture's numbers to SYSCALL_PROBES"
    )
    got = _probe(sandbox, SYSCALL_PROBES, groups_for(network=False))
    assert {name: got[name] for name in DENIED_BY_PROBE} == dict.fromkeys(
        DENIED_BY_PROBE, errno.EPERM
    ), got
    # ENOSYS, not EPERM: glibc falls back to clone only on ENOSYS.
    assert got["clone3"] == errno.ENOSYS, got


def test_network_profile_allows_tcp_and_udp_sockets_only(sandbox: Sandbox) -> None:
    got = _probe(sandbox, SOCKET_PROBES, groups_for(network=True))
    allowed = (
        *("unix", "unix_dgram", "unix_pair"),
        *("inet_stream", "inet_stream_flags", "inet_tcp", "inet_dgram"),
        *("inet6_stream", "inet6_udp"),
    )
    assert {name: got[name] for name in allowed} == dict.fromkeys(allowed, 0), got
    refused = {name: code for name, code in got.items() if name not in allowed}
    assert refused == dict.fromkeys(refused, errno.EPERM), got


def test_raw_and_packet_sockets_are_refused_even_with_cap_net_raw(docker_client: Any) -> None:
    # Control: root with CAP_NET_RAW under Docker's own profile can open them,
    # so the EPERM under ours comes from the filter, not the missing capability.
    privileged = Sandbox(docker_client, {"user": "0:0", "cap_add": ["NET_RAW"]})
    control = privileged.run(PYTHON_IMAGE, ("python3", "-c", SOCKET_PROBES), None)
    assert control.exit_code == 0, control.stderr
    baseline = json.loads(control.stdout)
    assert baseline["inet_raw"] == baseline["packet"] == 0, baseline
    ours = privileged.run(
        PYTHON_IMAGE, ("python3", "-c", SOCKET_PROBES), text_for(groups_for(network=True))
    )
    assert ours.exit_code == 0, ours.stderr
    got = json.loads(ours.stdout)
    assert got["inet_raw"] == got["inet6_raw"] == got["packet"] == errno.EPERM, got
    assert got["netlink"] == got["inet_sctp"] == errno.EPERM, got


def _fetch_from_a_local_server(
    sandbox: Sandbox,
    docker_client: Any,
    client: Callable[[str, str], Workload],
    without_network: tuple[Group, ...],
) -> Outcome:
    """The ``client`` workload must fetch from a server container under its own
    groups; returns how it does under ``without_network`` instead."""
    with http_server(docker_client) as (address, network):
        workload = client(address, network)
        _assert_shows(sandbox.attempt(workload, text_for(workload.groups)), workload)
        return sandbox.attempt(workload, text_for(without_network))


def test_network_profile_lets_a_client_fetch_from_a_local_server(
    sandbox: Sandbox, docker_client: Any
) -> None:
    refused = _fetch_from_a_local_server(
        sandbox, docker_client, http_client_workload, groups_for(network=False)
    )
    assert refused.exit_code != 0 and "PermissionError" in refused.stderr, refused


# Node.js on the node runtime (its group: libuv and V8), and what a refused call looks like.

NODE_GROUP_NAMES = (
    "copy_file_range",
    "eventfd2",
    "fchmod",
    "getsockname",
    "getsockopt",
    "shutdown",
)


@pytest.fixture(scope="module")
def node_sandbox(sandbox: Sandbox, node_image: str) -> Sandbox:
    return sandbox


def test_node_tool_runs_its_whole_workload_without_network(node_sandbox: Sandbox) -> None:
    workload = node_workload()
    _assert_shows(node_sandbox.attempt(workload, text_for(workload.groups)), workload)


def test_node_dies_at_start_without_its_group_as_issue_19_saw(node_sandbox: Sandbox) -> None:
    outcome = node_sandbox.run(NODE_IMAGE, ("node", "-e", "1"), text_for(groups_for(network=False)))
    # PID 1 cannot die of its own SIGABRT: abort() ends in SIGSEGV, exit 139.
    assert outcome.exit_code == 139, outcome
    assert "Assertion failed: (uv_loop_init(&tracing_loop_)) == (0)" in outcome.stderr


@pytest.mark.parametrize("name", [*NODE_GROUP_NAMES, "epoll_pwait"])
def test_each_name_node_is_given_is_needed(
    node_sandbox: Sandbox, tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "seccomp"
    for source in Path(__file__).resolve().parents[2].joinpath("seccomp").glob("*.json"):
        doc = json.loads(source.read_text())
        if name in doc.get("syscalls", []):
            doc["syscalls"].remove(name)
            doc.get("unexercised", {}).pop(name, None)
        folder.mkdir(exist_ok=True)
        (folder / source.name).write_text(json.dumps(doc))
    workload = replace(node_workload(), expect=("OK\n",))
    # The workload takes under a second; without shutdown a child never sees
    # the end of its stdin and it hangs until this timeout.
    quick = replace(node_sandbox, timeout=10)
    outcome = quick.attempt(workload, text_for(workload.groups, folder))
    assert not outcome.shows(workload), f"node passed without {name}: drop it from the group"


def test_node_http_client_fetches_from_a_local_server_with_egress(
    node_sandbox: Sandbox, docker_client: Any
) -> None:
    refused = _fetch_from_a_local_server(
        node_sandbox,
        docker_client,
        node_http_client_workload,
        groups_for(network=False, runtime="node"),
    )
    assert refused.exit_code == 1 and "EPERM" in refused.stderr, refused


def test_a_32_bit_system_call_is_killed_with_sigsys(sandbox: Sandbox) -> None:
    assert platform.machine() == "x86_64", "the probe is x86_64 machine code"
    control = sandbox.run(PYTHON_IMAGE, ("python3", "-c", INT80_SCRIPT), None)
    assert control.exit_code == 0 and "getpid" in control.stdout, control
    outcome = sandbox.run(
        PYTHON_IMAGE, ("python3", "-c", INT80_SCRIPT), text_for(groups_for(network=False))
    )
    assert outcome.exit_code == 128 + 31, outcome  # SIGSYS
    assert "getpid" not in outcome.stdout
