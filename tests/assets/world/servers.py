"""The test's own "outside world": run in a container on a network the test
created. One script, four roles: http, https (with a certificate from a CA
the test made), echo (raw TCP), and dns (logs every query it receives; answers
only the names given as NAME=IPV4 arguments, which is how a test makes a
declared name resolve to an address of its choosing)."""

import http.server
import socket
import ssl
import sys
import threading

role = sys.argv[1]


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from {role} {self.headers.get('Host')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if role in ("http", "https"):
    port = int(sys.argv[2])
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Hello)
    if role == "https":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain("/world/server.pem", "/world/server-key.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()
elif role == "echo":
    listener = socket.create_server(("0.0.0.0", int(sys.argv[2])))
    print("ready", flush=True)

    def echo(conn):
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()
elif role == "dns":
    names = dict(arg.split("=", 1) for arg in sys.argv[3:])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 53))
    print("ready", flush=True)
    while True:
        data, addr = sock.recvfrom(4096)
        print("query", data.hex(), flush=True)
        labels, pos = [], 12
        while pos < len(data) and data[pos]:
            labels.append(data[pos + 1 : pos + 1 + data[pos]].decode("ascii", "replace"))
            pos += 1 + data[pos]
        name = ".".join(labels).lower()
        question = data[12 : pos + 5]
        qtype = int.from_bytes(data[pos + 1 : pos + 3], "big")
        if name in names:
            header = (
                data[:2]
                + b"\x81\x80"
                + b"\x00\x01"
                + (b"\x00\x01" if qtype == 1 else b"\x00\x00")
                + b"\x00\x00\x00\x00"
            )
            body = question
            if qtype == 1:
                body += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x1e\x00\x04" + socket.inet_aton(
                    names[name]
                )
            sock.sendto(header + body, addr)
