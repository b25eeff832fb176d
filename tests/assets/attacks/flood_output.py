"""Attack: flood stdout, hoping something on the host keeps a copy of it all
(a container log file grows on the host's disk, six bytes per NUL in JSON).
Usage: flood_output.py MIB SECONDS: writes MIB of NULs, then stays alive
SECONDS so that the test can look at the host while the container exists."""

import sys
import time

mib, seconds = int(sys.argv[1]), float(sys.argv[2])
for _ in range(mib):
    sys.stdout.buffer.write(b"\0" * (1 << 20))
sys.stdout.buffer.flush()
print("flooded", file=sys.stderr, flush=True)
time.sleep(seconds)
