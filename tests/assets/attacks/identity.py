"""Attack: look for privileges to use: user ids, capabilities, no_new_privs,
seccomp, and other processes to signal."""

import os

from probe import say

say("ids", " ".join(map(str, (*os.getresuid(), *os.getresgid()))))
say("groups", " ".join(map(str, os.getgroups())) or "none")
with open("/proc/self/status") as f:
    for line in f:
        key, _, value = line.partition(":")
        if key.startswith("Cap") or key in ("NoNewPrivs", "Seccomp", "Uid", "Gid"):
            say(key, " ".join(value.split()))
# Processes it could signal or trace: only its own pid namespace shows.
say("visible pids", " ".join(sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int)))
