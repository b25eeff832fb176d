"""Attack: write where the sandbox must not let a tool write.

Each argument is OP:PATH with OP one of create, append, truncate, unlink,
mkdir, chmod, rename. Prints `OP:PATH: RESULT` for every attempt."""

import os
import sys

from probe import report


def create(path):
    with open(path, "x") as f:
        f.write("written by a sandboxed tool\n")


def append(path):
    with open(path, "a") as f:
        f.write("appended by a sandboxed tool\n")


def truncate(path):
    with open(path, "r+") as f:
        f.truncate(0)


OPS = {
    "create": create,
    "append": append,
    "truncate": truncate,
    "unlink": os.unlink,
    "mkdir": os.mkdir,
    "chmod": lambda path: os.chmod(path, 0o777),
    "rename": lambda path: os.rename(path, path + ".moved"),
}

for arg in sys.argv[1:]:
    op, _, path = arg.partition(":")
    report(arg, OPS[op], path)
