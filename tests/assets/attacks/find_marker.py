"""Attack: look for a host file that was never bound, anywhere in the container.

Usage: find_marker.py TOKEN HOST_FOLDER. Walks / (kernel filesystems left out,
depth limited) and prints `found: PATH` for every name containing TOKEN, then
whether the mount table or any readable file name mentions HOST_FOLDER."""

import os
import sys

from probe import say

token, host_folder = sys.argv[1], sys.argv[2]
SKIP = {"/proc", "/sys", "/dev"}
MAX_DEPTH = 8

visited = 0
for top, dirs, files in os.walk("/", onerror=None):
    depth = top.count("/") if top != "/" else 0
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in SKIP and depth < MAX_DEPTH]
    for name in dirs + files:
        visited += 1
        if token in name:
            say("found", os.path.join(top, name))
say("visited", visited)

with open("/proc/self/mountinfo") as f:
    mounts = f.read()
say("host folder in mountinfo", host_folder in mounts)
say("host folder reachable", os.path.exists(host_folder))
