"""A real HTTP(S) receiver of pushed SETs (RFC 8935) for tests: a thread-served socket.

``behaviour`` decides each answer: "accept" (202), "reject" (400 with an RFC 8935 error
body), "fail" (503), "garbage" (a 200-less junk line then close), "hang" (never answers),
"drip" (starts answering, then sends a byte every 0.2 s, never finishing), "redirect" (307 to
``location``), "flood" (200, then 64 KiB after 64 KiB until the client hangs up).
Every body received is kept in ``received`` with its headers; with TLS, every SNI name asked
for in ``server_names``.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

from namoid.jose import jwt

Behaviour = Literal["accept", "reject", "fail", "garbage", "hang", "drip", "redirect", "flood"]


@dataclass
class Receiver:
    url: str
    behaviour: Behaviour = "accept"
    location: str = "https://169.254.169.254/latest/meta-data/"
    received: list[tuple[dict[str, str], str]] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)

    def tokens(self) -> list[str]:
        return [body for _, body in self.received]

    def jtis(self) -> list[str]:
        """The ``jti`` of each SET received, in order (read without verifying the signature)."""
        return [jwt.unverified_claims(token)["jti"] for token in self.tokens()]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many deliveries connect at once


@contextmanager
def receiver(
    behaviour: Behaviour = "accept",
    *,
    cert: tuple[Path, Path] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[Receiver]:
    """Serve on ``port`` of ``host`` (default: a free one); https when ``cert`` (cert, key files) is given."""
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _drip(self) -> None:
            """Start a 202 answer, then add a byte every 0.2 s and never finish it."""
            try:
                self.wfile.write(b"HTTP/1.1 202 Accepted\r\nX-Drip: ")
                while not state.release.wait(0.2):
                    self.wfile.write(b"x")
                    self.wfile.flush()
            except OSError:  # the sender gave up and closed the connection
                return

        def _flood(self) -> None:
            """A 200 whose body (no Content-Length: it ends when the connection does) never ends."""
            self.send_response(200)
            self.end_headers()
            try:
                while not state.release.is_set():
                    self.wfile.write(b"x" * 65536)
            except OSError:  # the sender stopped reading and closed the connection
                return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            state.arrived.set()
            if state.behaviour == "hang":
                state.release.wait(30)
                return
            if state.behaviour == "drip":
                self._drip()
                return
            if state.behaviour == "flood":
                self._flood()
                return
            if state.behaviour == "redirect":
                self.send_response(307)
                self.send_header("Location", state.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if state.behaviour == "garbage":
                self.wfile.write(b"this is not HTTP\r\n\r\n")
                return
            status, payload = {
                "accept": (202, b""),
                "reject": (400, json.dumps({"err": "invalid_issuer", "description": "unknown"}).encode()),
                "fail": (503, b"try later"),
            }[state.behaviour]
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            if payload:
                self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

    server = _Server((host, port), Handler)
    scheme = "http"
    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert[0]), str(cert[1]))
        context.sni_callback = lambda _socket, name, _context: state.server_names.append(name)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    state = Receiver(url=f"{scheme}://{host}:{server.server_address[1]}/events", behaviour=behaviour)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
