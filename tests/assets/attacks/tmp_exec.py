"""Attack: drop a binary and a script into the writable /tmp and run them.

The control runs the same binary from where the image has it."""

import os
import shutil
import subprocess

from probe import report

shell = os.path.realpath("/bin/sh")


def run(path):
    subprocess.run([path, "-c", "exit 0"], check=True)


def write_script(path):
    with open(path, "w") as f:
        f.write("#!/bin/sh\necho escaped\n")
    os.chmod(path, 0o755)


report("run the image's shell", run, shell)
report("copy shell to /tmp", shutil.copy, shell, "/tmp/dropped-shell")
report("chmod +x", os.chmod, "/tmp/dropped-shell", 0o755)
report("exec copied shell", run, "/tmp/dropped-shell")
report("write script to /tmp", write_script, "/tmp/dropped.sh")
report("exec script", run, "/tmp/dropped.sh")
report("execve directly", os.execv, "/tmp/dropped-shell", ["/tmp/dropped-shell", "-c", "exit 0"])
