"""``mppoci init``: a small working package to start from."""

from __future__ import annotations

import re
from pathlib import Path

from mppoci.errors import UserInputError

_MANIFEST = """\
# The manifest of an mppoci package. Format: docs/manifest.md
schemaVersion: 1
name: {name}
version: 0.1.0
description: Count the words, lines and characters of a text.
authors:
  - {author}
license: Apache-2.0

# A recipe from runtimes/ (pinned to its image digest by `mppoci build`).
runtime: python3
entrypoint: ["python3", "/pkg/main.py"]
protocol: cli

tools:
  - name: count
    description: Count the words, lines and characters of the given text.
    inputSchema:
      type: object
      properties:
        text: {{type: string, description: The text to count}}
      required: [text]
      additionalProperties: false
    annotations:
      readOnlyHint: true
      openWorldHint: false

# Everything not declared here is denied: no files, no network, no variables.
permissions:
  resources:
    memory: 64Mi
    cpus: 0.5
    pids: 16
    timeout: 10s
    tmp: 8Mi
"""

_MAIN = '''\
"""A sample mppoci tool: reads its call as JSON on stdin, answers JSON on stdout."""

import json
import sys


def count(text: str) -> dict[str, int]:
    return {"words": len(text.split()), "lines": len(text.splitlines()), "chars": len(text)}


def main() -> int:
    call = json.load(sys.stdin)
    arguments = call.get("arguments", call)
    if not isinstance(arguments.get("text"), str):
        print(json.dumps({"error": "argument 'text' must be a string"}))
        return 2
    print(json.dumps(count(arguments["text"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

_IGNORE = """\
# Paths left out of the package content (fnmatch patterns, one a line).
README.md
tests
"""

_README = """\
# {name}

An mppoci package. Build it with `mppoci build .`, look at it with
`mppoci inspect .`.
"""

_COMPONENT = re.compile(r"[^a-z0-9]+")


def default_name(folder: Path) -> str:
    tool = _COMPONENT.sub("-", folder.resolve().name.lower()).strip("-") or "tool"
    return f"local/{tool}"


def scaffold(folder: Path, *, name: str, author: str) -> list[Path]:
    """Write a sample package into ``folder`` (created if missing, must be empty).

    Raises UserInputError when the folder has files in it."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserInputError(
            f"{folder} already exists and is not an empty folder",
            hint="choose a new folder name; init never overwrites files",
        )
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "mpp.yaml": _MANIFEST.format(name=name, author=author),
        "main.py": _MAIN,
        ".mppignore": _IGNORE,
        "README.md": _README.format(name=name),
    }
    written = []
    for rel, text in files.items():
        path = folder / rel
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
