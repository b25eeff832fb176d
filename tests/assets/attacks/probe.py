"""Shared by the Python attacks: run one attempt, print `LABEL: RESULT`.

RESULT is OK when the attempt worked, else the errno name (EROFS, EPERM...).
The test reads these lines; a line per attempt keeps what happened visible.
"""

import errno


def outcome(action, *args):
    try:
        action(*args)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    return "OK"


def report(label, action, *args):
    result = outcome(action, *args)
    print(f"{label}: {result}", flush=True)
    return result


def say(label, value):
    print(f"{label}: {value}", flush=True)


def errno_name(number):
    return errno.errorcode.get(number, str(number)) if number else "OK"
