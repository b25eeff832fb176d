"""Attack: read every environment variable the tool was given, hoping for the host's.

Reads /proc/self/environ, the environment exactly as the container started the
tool (os.environ would add Python's own locale coercion, LC_CTYPE)."""

import json

with open("/proc/self/environ", "rb") as f:
    entries = [e.decode() for e in f.read().split(b"\0") if e]
print(json.dumps(dict(e.partition("=")[::2] for e in entries), sort_keys=True), flush=True)
