"""Attack: fill a writable folder (the /tmp tmpfs, a storage volume) and with
it the memory or disk behind it. Usage: fill_disk.py FOLDER MAX_MIB.

Writes 1 MiB at a time to FOLDER/fill.bin, up to MAX_MIB; prints how much got
written and the errno that stopped it (`none` if nothing did). The file is
removed afterwards, so a persistent folder is not left full for a later run."""

import contextlib
import os
import sys

from probe import errno_name, say

folder, max_mib = sys.argv[1], int(sys.argv[2])
chunk = b"\xa5" * (1 << 20)
written = 0
stopped_by = "none"
try:
    with open(os.path.join(folder, "fill.bin"), "wb") as f:
        while written < max_mib:
            f.write(chunk)
            f.flush()
            written += 1
        os.fsync(f.fileno())
except OSError as e:
    stopped_by = errno_name(e.errno)
finally:
    with contextlib.suppress(OSError):
        os.remove(os.path.join(folder, "fill.bin"))
say("written MiB", written)
say("stopped by", stopped_by)
