"""Attack: take all the host's memory, a mebibyte at a time, touching every page."""

import sys

chunks = []
while True:
    chunks.append(b"\x5a" * (1 << 20))
    if len(chunks) % 4 == 0:
        print(f"allocated: {len(chunks)} MiB", flush=True)
    if len(chunks) > 64 * 1024:
        sys.exit("allocated 64 GiB without being stopped")
