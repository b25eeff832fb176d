"""Try what a malicious tool would try; print how each attempt ended."""

import ctypes
import os
import socket


def attempt(what, action):
    try:
        action()
    except OSError as e:
        print(f"DENIED   {what}: {os.strerror(e.errno)}")
    else:
        print(f"ALLOWED  {what}")


def write(path):
    with open(path, "w") as f:
        f.write("x")


def unshare():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        raise OSError(ctypes.get_errno(), "unshare")


attempt("write to the root filesystem (/etc/evil)", lambda: write("/etc/evil"))
attempt("change its own package (/pkg/nosy.py)", lambda: write("/pkg/nosy.py"))
attempt("open an internet socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
attempt("open a raw socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 1))
attempt("create a user namespace", unshare)
attempt("read the Docker socket", lambda: open("/var/run/docker.sock").close())
print(f"running as uid {os.getuid()}; environment: {sorted(os.environ)}")
