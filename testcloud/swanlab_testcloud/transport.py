"""HTTP/1.1 on a socket: parse a request, apply a switched-on fault, call the API, answer.

Keep-alive matters: the official SDK (requests) and the uploader (httpx) both reuse
connections, so "down" and "reset" must also cut connections that are already open; the
server tracks them for that.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from swanlab_testcloud.api import SDK_VERSION_HEADER, CloudApi, Rejected, Reply, Request
from swanlab_testcloud.faults import Fault, FaultBoard, FaultKind
from swanlab_testcloud.store import Store

log = logging.getLogger(__name__)


class HttpServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its API, its faults and its open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: CloudApi, faults: FaultBoard, base_url: str = "") -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.store: Store = api.store
        self.faults = faults
        self.base_url = base_url or f"http://{address[0]}:{self.server_address[1]}"
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def cut_connections(self) -> None:
        """Shut every open connection down, so keep-alive clients cannot go on talking to a dead server.

        Another thread owns each connection (blocked reading the next request), so this only
        shuts the socket down: that thread sees EOF and closes it, with RST (linger 0).
        """
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                _linger_zero(connection)
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _linger_zero(connection: socket.socket) -> None:
    # SO_LINGER on with a zero timeout makes close() send RST instead of FIN.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle and the peer's
        # delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        url = urlsplit(self.path)
        method, path = self.command, url.path
        body = self._read_body()
        request = Request(method, path, dict(parse_qsl(url.query)), self.headers, body, self.server.base_url)
        store = self.server.store
        sdk_version = self.headers.get(SDK_VERSION_HEADER)
        fault = self.server.faults.take(method, path)
        kind = fault.kind if fault is not None else None
        if kind is FaultKind.RESET:
            store.log_request(method, path, None, sdk_version, "fault:reset")
            self._reset()
            return
        if fault is not None and kind in (FaultKind.STATUS, FaultKind.RATE_LIMIT):
            reply = _injected_reply(fault)
            store.log_request(method, path, reply.status, sdk_version, f"fault:{fault.kind.value}")
            self._answer(reply)
            return
        if fault is not None and kind is FaultKind.SLOW:
            time.sleep(fault.delay_s)
        if fault is not None and kind is FaultKind.HOLD:
            fault.released.wait(fault.delay_s)
        reply, outcome = self._call(request)
        if kind is FaultKind.DROP:
            store.log_request(method, path, reply.status, sdk_version, "fault:drop")
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.close_connection = True
            return
        store.log_request(method, path, reply.status, sdk_version, outcome)
        self._answer(reply)

    def _reset(self) -> None:
        """Close the connection with RST now, from its own thread."""
        self.close_connection = True
        try:
            _linger_zero(self.connection)
            # rfile holds a reference to the socket; the fd (and so the RST) goes only with the last one.
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass

    def _call(self, request: Request) -> tuple[Reply, str]:
        try:
            return self.server.api.handle(request), "ok"
        except Rejected as rejected:
            if rejected.error:
                self.server.store.log_error(
                    request.method, request.path, rejected.status, rejected.code, rejected.message
                )
                log.warning("protocol error: %s %s -> %s", request.method, request.path, rejected)
            reply = Reply(rejected.status, {"code": rejected.code, "message": rejected.message})
            return reply, "error" if rejected.error else "rejected"
        except Exception as exc:
            log.exception("test cloud bug on %s %s", request.method, request.path)
            self.server.store.log_error(request.method, request.path, 500, "INTERNAL", repr(exc))
            return Reply(500, {"code": "INTERNAL", "message": repr(exc)}), "error"

    def _answer(self, reply: Reply) -> None:
        if isinstance(reply.body, str):
            payload, content_type = reply.body.encode(), "text/plain; charset=utf-8"
        else:
            payload, content_type = json.dumps(reply.body).encode(), "application/json"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("traceid", uuid.uuid4().hex)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            # The client went away (or a test cut the connection): nothing left to tell it.
            self.close_connection = True


def _injected_reply(fault: Fault) -> Reply:
    if fault.kind is FaultKind.RATE_LIMIT:
        reply = Reply(429, {"code": "TOO_MANY_REQUESTS", "message": "injected rate limit"})
        reply.headers["Retry-After"] = str(fault.retry_after_s)
        return reply
    return Reply(fault.status, {"code": "INJECTED", "message": "injected server error"})
