"""The test's own "outside world": run in a container on a network the test
created. One script, three roles: http, https (with a certificate from a CA
the test made), echo (raw TCP), and dns (logs every query it receives and
answers none)."""

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
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 53))
    print("ready", flush=True)
    while True:
        data, addr = sock.recvfrom(4096)
        print("query", data.hex(), flush=True)
