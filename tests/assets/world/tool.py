"""A tool with declared egress that also tries everything it did not declare.
Prints one line per attempt: LABEL: OK ..., LABEL: REACHED ... (connection
refused: a packet arrived and something answered, so it was NOT denied) or
LABEL: DENIED <reason> (no route, unreachable, timed out, name refused...).
With ``probe=HOST:PORT,HOST:PORT...`` it only tries connect() to each."""

import errno
import functools
import socket
import ssl
import sys
import urllib.error
import urllib.request

targets = dict(arg.split("=", 1) for arg in sys.argv[1:])


def _refused(e):
    while e is not None:
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return True
        e = getattr(e, "reason", None) if isinstance(e, urllib.error.URLError) else e.__cause__
    return False


def attempt(label, action):
    try:
        result = action()
    except Exception as e:
        verdict = "REACHED" if _refused(e) else "DENIED"
        print(f"{label}: {verdict} {type(e).__name__}: {e}", flush=True)
    else:
        print(f"{label}: OK {result}", flush=True)


def get(url, context=None):
    with urllib.request.urlopen(url, timeout=5, context=context) as r:
        return r.read().decode()


def tcp_echo(host, port):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"ping")
        return s.recv(16).decode()


def connect(host, port):
    with socket.create_connection((host, port), timeout=3):
        return "connected"


def raw_dns(server, name):
    q = bytes.fromhex("beef01000001000000000000")
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00\x00\x01\x00\x01"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(q, (server, 53))
    reply = s.recv(512)
    rcode = reply[3] & 0x0F
    answers = int.from_bytes(reply[6:8], "big")
    if rcode or not answers:
        raise OSError(f"rcode {rcode}, {answers} answers")
    return "answered"


def connect_address(address, port):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect((address, port))
        return "connected"


def send(host, port):
    """Connect by name and talk: the gateway's refusal shows as a closed connection."""
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
        reply = s.recv(64)
        if not reply:
            raise OSError("closed without a reply")
        return reply.decode(errors="replace")


def flood(n):
    """n DNS queries (each for another undeclared name) and n connections."""
    answered = 0
    for i in range(n):
        try:
            raw_dns("127.0.0.1", f"flood-{i}.evil.example")
        except OSError:
            answered += 1  # REFUSED, as it must be
    for _ in range(n):
        with socket.create_connection(("db.test", 5432), timeout=5):
            pass
    return f"{answered} refused, {n} connections"


if "wait" in targets:  # stay up while the test inspects the run's containers
    import time

    time.sleep(float(targets["wait"]))
    sys.exit(0)
if "flood" in targets:
    attempt("flood", functools.partial(flood, int(targets["flood"])))
    sys.exit(0)
if "probe" in targets:
    for item in targets["probe"].split(","):
        address, _, port = item.rpartition(":")
        attempt(f"probe {item}", functools.partial(connect_address, address.strip("[]"), int(port)))
    sys.exit(0)
if "idle" in targets:  # idle=N: N connections held open without a byte

    def idle(n):
        address = socket.gethostbyname("db.test")  # one DNS query, not n
        held = [socket.create_connection((address, 5432), timeout=5) for _ in range(n)]
        import select
        import time

        time.sleep(2)  # a refused one is closed at once; this only lets it arrive
        readable, _, _ = select.select(held, [], [], 0)
        closed = sum(1 for s in readable if s.recv(1) == b"")  # open ones stay silent
        for s in held:
            s.close()
        return f"{closed} closed"

    attempt("idle", functools.partial(idle, int(targets["idle"])))
    sys.exit(0)
if "raw" in targets:  # raw=PORT:HEX,...: these bytes to the relay, as they are

    def raw(port, data):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(data)
            reply = s.recv(64)
            if not reply:
                raise OSError("closed without a reply")
            return reply.decode(errors="replace")

    for i, item in enumerate(targets["raw"].split(",")):
        port, _, data = item.partition(":")
        attempt(f"raw {i}", functools.partial(raw, int(port), bytes.fromhex(data)))
    sys.exit(0)
if "send" in targets:
    for item in targets["send"].split(","):
        host, _, port = item.rpartition(":")
        attempt(f"send {item}", functools.partial(send, host, int(port)))
    sys.exit(0)

ca = ssl.create_default_context(cafile="/pkg/ca.pem")
attempt("declared http", lambda: get("http://api.test:8080/"))
attempt("declared https", lambda: get("https://secure.svc.test:8443/", ca))
attempt("declared tcp", lambda: tcp_echo("db.test", 5432))
attempt("other host", lambda: get("http://other.test:8080/"))
attempt("other port", lambda: connect("api.test", 9999))
attempt("direct ip", lambda: connect(targets["api_ip"], 8080))
attempt("docker host", lambda: connect(targets["host_ip"], 2375))
attempt("dns exfiltration", lambda: socket.gethostbyname(targets["exfil"]))
attempt("dns via docker's resolver", lambda: raw_dns("127.0.0.11", targets["exfil2"]))
attempt("dns to the world's server", lambda: raw_dns(targets["dns_ip"], targets["exfil3"]))
