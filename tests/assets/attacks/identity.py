"""Attack: look for privileges to use: user ids, capabilities, no_new_privs,
seccomp, and other processes to signal."""

import os

from probe import say

# Ids come from /proc: the sandbox's seccomp profile does not offer
# getresuid/getgroups, which a tool has no need for.
with open("/proc/self/status") as f:
    for line in f:
        key, _, value = line.partition(":")
        if key.startswith("Cap") or key in ("NoNewPrivs", "Seccomp", "Uid", "Gid", "Groups"):
            say(key, " ".join(value.split()) or "none")
# Processes it could signal or trace: only its own pid namespace shows.
say("visible pids", " ".join(sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int)))
