"""A small HTTP server on 127.0.0.1 that hosts the API fakes, with fault injection per route and request number.

Each fake is mounted under its own prefix: ``http://127.0.0.1:<port>/<fake.name>/...``. A fake implements
``handle(request) -> Reply`` and ``configuration(base_url) -> dict`` (a connector configuration pointing at it).

Faults (``Sandbox.faults.add``) fire on the nth matching request of a route (counted from when the fault is
added) and on the ``times - 1`` requests after it (``times=None``: every one from then on). A request is
answered by the first fault that fires on it, and faults added later do not count it. Kinds:
``status`` (any code; ``retry_after`` adds a Retry-After header, seconds or HTTP date), ``slow`` (wait
``delay_s`` before answering), ``reset`` (abort the connection), ``truncate`` (send part of the body, then close),
``malformed`` (the fake's broken payload), ``envelope`` (the fake's well-formed answer without its records key or
root) and ``expired_token`` (the fake's 401).

Control over HTTP, for a sandbox in another process: ``POST /_sandbox/faults`` (JSON: source, path, kind, nth,
times, options), ``DELETE /_sandbox/faults``, ``GET /_sandbox/requests``, ``POST /_sandbox/<fake>/<action>``.
"""

import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FAULT_KINDS = ("status", "slow", "reset", "truncate", "malformed", "envelope", "expired_token")


@dataclass
class Request:
    method: str
    source: str
    path: str  # below the fake's prefix, e.g. "/brands"
    query: dict[str, list[str]]
    raw_query: str
    headers: dict[str, str]
    body: bytes = b""

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload, status: int = 200, headers: dict | None = None) -> "Reply":
        return cls(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8",
             headers: dict | None = None) -> "Reply":
        return cls(status, text.encode(), {"Content-Type": content_type, **(headers or {})})


@dataclass
class Fault:
    source: str
    path: str
    kind: str
    nth: int = 1
    times: int | None = 1
    options: dict = field(default_factory=dict)
    seen: int = 0
    fired: int = 0

    def matches(self, request: Request) -> bool:
        """Count this request if the route matches; True when it is one of the requests to break."""
        if request.source != self.source or not request.path.startswith(self.path):
            return False
        if self.options.get("method") and self.options["method"] != request.method:
            return False
        self.seen += 1
        if self.seen < self.nth or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True


class FaultPlan:
    def __init__(self):
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, source: str, path: str, kind: str, *, nth: int = 1, times: int | None = 1, **options) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        fault = Fault(source, path, kind, nth, times, options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def planned(self) -> list[Fault]:
        """Every fault added (and not cleared), fired or not."""
        with self._lock:
            return list(self._faults)

    def pick(self, request: Request) -> Fault | None:
        """The first fault (in the order added) that fires on this request; faults after it do not see it."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(request):
                    return fault
            return None


class Sandbox:
    """The server and its fakes. ``start()`` binds a free port on 127.0.0.1 and serves in a thread."""

    def __init__(self, *fakes, host: str = "127.0.0.1", port: int = 0):
        self.fakes = {fake.name: fake for fake in fakes}
        self.faults = FaultPlan()
        self.requests: deque[Request] = deque(maxlen=200_000)
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, name: str) -> str:
        return f"http://{self._host}:{self.port}/{name}"

    def configuration(self, name: str) -> dict:
        return self.fakes[name].configuration(self.url(name))

    def start(self) -> "Sandbox":
        handler = type("BoundHandler", (_Handler,), {"sandbox": self})
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def requests_to(self, name: str, path: str | None = None) -> list[Request]:
        return [r for r in list(self.requests) if r.source == name and (path is None or r.path.startswith(path))]

    def control(self, request: Request) -> Reply:
        """The /_sandbox endpoints (see the module docstring)."""
        parts = [p for p in request.path.split("/") if p]
        payload = json.loads(request.body or b"{}")
        if parts == ["faults"] and request.method == "POST":
            fault = self.faults.add(payload["source"], payload.get("path", "/"), payload["kind"],
                                    nth=int(payload.get("nth", 1)), times=payload.get("times", 1),
                                    **payload.get("options", {}))
            return Reply.json({"added": fault.kind})
        if parts == ["faults"] and request.method == "DELETE":
            self.faults.clear()
            return Reply.json({"cleared": True})
        if parts == ["requests"]:
            return Reply.json([{"source": r.source, "method": r.method, "path": r.path, "query": r.raw_query}
                               for r in list(self.requests)])
        if len(parts) == 2 and parts[0] in self.fakes:
            return Reply.json(self.fakes[parts[0]].control(parts[1], payload))
        return Reply.json({"error": "unknown control endpoint"}, 404)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sandbox: Sandbox

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms per request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *_args) -> None:  # keep test output clean
        pass

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def do_DELETE(self):
        self._serve()

    def _read_request(self) -> Request:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = split.path.split("/", 2)
        source = parts[1] if len(parts) > 1 else ""
        path = "/" + (parts[2] if len(parts) > 2 else "")
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Request(self.command, source, path, parse_qs(split.query, keep_blank_values=True), split.query,
                       headers, body)

    def _serve(self) -> None:
        request = self._read_request()
        if request.source == "_sandbox":
            self._send(self.sandbox.control(request))
            return
        fake = self.sandbox.fakes.get(request.source)
        if fake is None:
            self._send(Reply.json({"error": f"no fake named {request.source!r}"}, 404))
            return
        self.sandbox.requests.append(request)
        fault = self.sandbox.faults.pick(request)
        try:
            if fault is not None and self._inject(fault, fake, request):
                return
            self._send(fake.handle(request))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _inject(self, fault: Fault, fake, request: Request) -> bool:
        """Apply a fault; True when the request has been fully answered (or dropped)."""
        if fault.kind == "status":
            headers = {}
            if "retry_after" in fault.options:
                headers["Retry-After"] = str(fault.options["retry_after"])
            self._send(Reply.json({"message": "injected fault"}, int(fault.options.get("status", 500)), headers))
        elif fault.kind == "slow":
            time.sleep(float(fault.options.get("delay_s", 5)))
            return False
        elif fault.kind == "reset":
            self._abort()
        elif fault.kind == "truncate":
            self._send(fake.handle(request), truncate=True)
        elif fault.kind == "malformed":
            self._send(fake.malformed(request))
        elif fault.kind == "envelope":
            self._send(fake.without_envelope(request))
        elif fault.kind == "expired_token":
            self._send(fake.expired_token(request))
        return True

    def _abort(self) -> None:
        """Close with a TCP reset, as a crashed proxy would."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _send(self, reply: Reply, truncate: bool = False) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if isinstance(reply.body, (bytes, bytearray)):
            self._send_bytes(bytes(reply.body), truncate)
        else:
            self._send_chunked(iter(reply.body), truncate)

    def _send_bytes(self, body: bytes, truncate: bool) -> None:
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if truncate:
            self.wfile.write(body[: max(1, len(body) // 2)])
            self.wfile.flush()
            self._abort()
            return
        self.wfile.write(body)

    def _send_chunked(self, pieces: Iterator[bytes], truncate: bool) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        for piece in _coalesce(pieces):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += 1
            if truncate and sent >= 2:
                self.wfile.flush()
                self._abort()
                return
        if truncate:  # a body too small to cut between chunks: cut inside the only one
            self._abort()
            return
        self.wfile.write(b"0\r\n\r\n")


def _coalesce(pieces: Iterator[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """Group small pieces (e.g. one CSV line each) into chunks of about ``size`` bytes."""
    buffer: list[bytes] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield b"".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield b"".join(buffer)
