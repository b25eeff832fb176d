"""Attack: the syscalls that break out of a container or into the kernel,
called directly through libc's syscall() with x86_64 numbers and real
arguments. Prints each errno name (OK would mean the call succeeded)."""

import ctypes
import os
import struct

from probe import errno_name, say

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PTRACE_TRACEME = 0
PTRACE_ATTACH = 16
KEYCTL_JOIN_SESSION_KEYRING = 1
BPF_MAP_CREATE = 0
BPF_MAP_TYPE_ARRAY = 2

NR = {
    "ptrace": 101,
    "pivot_root": 155,
    "chroot": 161,
    "mount": 165,
    "umount2": 166,
    "init_module": 175,
    "add_key": 248,
    "keyctl": 250,
    "unshare": 272,
    "setns": 308,
    "bpf": 321,
}


def arg(value):
    if isinstance(value, bytes):
        return ctypes.c_char_p(value)
    if isinstance(value, ctypes.Array):
        return value
    return ctypes.c_long(value)


def call(name, *args):
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(NR[name]), *(arg(a) for a in args))
    return "OK" if result != -1 else errno_name(ctypes.get_errno())


say("mount tmpfs", call("mount", b"none", b"/tmp", b"tmpfs", 0, 0))
say("mount proc", call("mount", b"proc", b"/tmp", b"proc", 0, 0))
say("umount2", call("umount2", b"/pkg", 0))
say("unshare user+mount", call("unshare", CLONE_NEWUSER | CLONE_NEWNS))
say("unshare user", call("unshare", CLONE_NEWUSER))
say("unshare net", call("unshare", CLONE_NEWNET))
say("setns", call("setns", os.open("/proc/self/ns/net", os.O_RDONLY), 0))
say("chroot", call("chroot", b"/tmp"))
say("pivot_root", call("pivot_root", b"/tmp", b"/tmp"))
say("init_module", call("init_module", b"\0" * 64, 64, b""))
say("keyctl join session", call("keyctl", KEYCTL_JOIN_SESSION_KEYRING, 0))
say("add_key", call("add_key", b"user", b"escape", b"secret", 6, -3))
attr = ctypes.create_string_buffer(struct.pack("IIII", BPF_MAP_TYPE_ARRAY, 4, 4, 1), 128)
say("bpf map create", call("bpf", BPF_MAP_CREATE, attr, 128))
say("ptrace traceme", call("ptrace", PTRACE_TRACEME, 0, 0, 0))

# Attach to pid 1 (the tool itself is pid 1 here) from a child, the way a
# debugger-based escape would; the child reports through a pipe.
read_end, write_end = os.pipe()
child = os.fork()
if child == 0:
    os.close(read_end)
    os.write(write_end, call("ptrace", PTRACE_ATTACH, 1, 0, 0).encode())
    os._exit(0)
os.close(write_end)
os.waitpid(child, 0)
say("ptrace attach pid 1", os.read(read_end, 64).decode())
say("my pid", os.getpid())
