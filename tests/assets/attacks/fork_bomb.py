"""Attack: a fork bomb. Usage: fork_bomb.py TOKEN (TOKEN only marks the
processes, so the test can look for survivors on the host).

Forks children that never exit, until fork fails; prints how many it made and
the errno that stopped it. When pid 1 (this process) exits, the kernel kills
every child with it."""

import os
import signal
import sys

from probe import errno_name, say

forked = 0
stopped_by = None
while forked < 100_000:
    try:
        pid = os.fork()
    except OSError as e:
        stopped_by = errno_name(e.errno)
        break
    if pid == 0:
        while True:  # children never exit: every one holds a process slot
            signal.pause()
    forked += 1
say("forked", forked)
say("stopped by", stopped_by)
say("token", sys.argv[1])
sys.exit(1)
