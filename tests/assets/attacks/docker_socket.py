"""Attack: find a container engine socket to take over the host with.

Checks the usual places, then walks the whole filesystem (kernel filesystems
left out) for any socket file and tries to connect to each."""

import os
import socket
import stat

from probe import report, say

for path in ("/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock"):
    say(f"exists {path}", os.path.lexists(path))


def connect(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(path)


report("connect /var/run/docker.sock", connect, "/var/run/docker.sock")
report("connect /run/docker.sock", connect, "/run/docker.sock")

sockets = 0
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys")]
    for name in files:
        path = os.path.join(top, name)
        try:
            is_socket = stat.S_ISSOCK(os.lstat(path).st_mode)
        except OSError:
            continue
        if is_socket:
            sockets += 1
            report(f"socket file {path}", connect, path)
say("socket files", sockets)
