"""Attack: reach a server by address. Usage: connect.py ADDRESS PORT.

Tries TCP (a plain connect and an HTTP request) and UDP. Prints the errno of
the step that failed, or what the server answered."""

import socket
import sys

from probe import report, say

address, port = sys.argv[1], int(sys.argv[2])


def tcp():
    with socket.create_connection((address, port), timeout=5) as conn:
        conn.sendall(b"GET /passwd HTTP/1.0\r\n\r\n")
        say("server answered", conn.recv(64)[:12])


def udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"hello", (address, port))


report("tcp connect", tcp)
report("udp send", udp)
