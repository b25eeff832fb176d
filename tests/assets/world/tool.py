"""A tool with declared egress that also tries everything it did not declare.
Prints one line per attempt: LABEL: OK ... or LABEL: DENIED <reason>."""

import socket
import ssl
import sys
import urllib.request

targets = dict(arg.split("=", 1) for arg in sys.argv[1:])


def attempt(label, action):
    try:
        result = action()
    except Exception as e:
        print(f"{label}: DENIED {type(e).__name__}: {e}", flush=True)
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
