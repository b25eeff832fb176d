"""Send each audit record, as it is written, to syslog or journald.

A copy outside the machine's state folder (a log host fed by syslog, the
journal) keeps records that are later cut from or edited in the local log.
Sending is best effort: the record is already in the local log, so a missing
or full socket is reported as a warning and never fails the operation.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime

from mppoci.settings import AuditForwarding, ForwardTo

_log = logging.getLogger("mppoci.audit")
_IDENT = "mppoci"
_SEND_TIMEOUT_SECONDS = 1.0
# authpriv (10): records name users and packages; informational (6).
_PRIORITY = 10 * 8 + 6


def syslog_datagram(line: bytes, *, pid: int, now: datetime) -> bytes:
    """An RFC 3164 message, as syslog(3) writes it to /dev/log."""
    stamp = f"{now:%b} {now.day:>2} {now:%H:%M:%S}"
    return f"<{_PRIORITY}>{stamp} {_IDENT}[{pid}]: ".encode() + line


def journald_datagram(line: bytes, *, seq: int) -> bytes:
    """journald's native protocol: FIELD=value lines (a record line holds no newline)."""
    return b"".join(
        (
            b"MESSAGE=" + line + b"\n",
            f"SYSLOG_IDENTIFIER={_IDENT}\n".encode(),
            b"PRIORITY=6\n",
            b"SYSLOG_FACILITY=10\n",
            f"MPPOCI_AUDIT_SEQ={seq}\n".encode(),
        )
    )


def forward(target: AuditForwarding, line: bytes, *, seq: int) -> bool:
    """Send one record line; return whether it was sent (a failure is logged)."""
    if target.to is ForwardTo.JOURNALD:
        datagram = journald_datagram(line, seq=seq)
    else:
        datagram = syslog_datagram(line, pid=os.getpid(), now=datetime.now(UTC))
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.settimeout(_SEND_TIMEOUT_SECONDS)
            sock.sendto(datagram, target.socket)
    except OSError as e:
        _log.warning(
            "audit record %d was not forwarded to %s at %s: %s",
            seq,
            target.to.value,
            target.socket,
            e.strerror or type(e).__name__,
        )
        return False
    return True
