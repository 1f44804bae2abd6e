"""A small threaded HTTP server on 127.0.0.1 with an ephemeral port, a request
log, a sliding-window rate limit and fault injection.

Faults (``inject``) apply to the next matching requests:

* ``status``: answer ``code`` (e.g. 503) without processing;
* ``rate``: answer 429 with ``Retry-After: seconds``;
* ``drop``: close the connection without an answer, before processing;
* ``slow``: process the request, then wait ``seconds`` before answering
  (the client times out; the change was applied: a resend must be idempotent).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    kind: str
    times: int = 1
    match: str = ""
    code: int = 503
    seconds: float = 0.0
    message: str | None = None


class FakeAPI:
    """Subclasses implement ``handle(req) -> Response``."""

    name = "fake"

    def __init__(self, rate: tuple[int, float] | None = None, delay: float = 0.0) -> None:
        self.requests: list[Request] = []
        self.faults: deque[Fault] = deque()
        self.lock = threading.RLock()
        self.rate = rate  # (requests, per_seconds)
        self._starts: deque[float] = deque()
        self.delay = delay  # seconds added to every answer (to catch a run mid-flight)
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.rate_limited = 0
        self.in_flight = 0
        self.max_active = 0
        self.on_request: Any = None  # callback(req) for tests (e.g. kill a process)
        self.errors: list[Exception] = []

    # ---- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                api._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> FakeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test controls ---------------------------------------------------------------------

    def inject(self, kind: str, times: int = 1, match: str = "", **kw: Any) -> None:
        with self.lock:
            self.faults.append(Fault(kind, times, match, **kw))

    def calls(self, path_part: str = "", method: str | None = None) -> list[Request]:
        with self.lock:
            return [
                r for r in self.requests if path_part in r.path and (method is None or r.method == method)
            ]

    # ---- plumbing --------------------------------------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in list(self.faults):
                if fault.match in path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def rate_headers(self) -> dict[str, str]:
        return {}

    def _over_rate(self, now: float) -> bool:
        if not self.rate:
            return False
        n, window = self.rate
        with self.lock:
            while self._starts and self._starts[0] <= now - window:
                self._starts.popleft()
            if len(self._starts) >= n:
                self.rate_limited += 1
                return True
            self._starts.append(now)
        return False

    def rate_limited_response(self) -> Response:
        window = self.rate[1] if self.rate else 1.0
        return Response(429, {"message": "rate limited"}, {"Retry-After": f"{window:g}"})

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = urlsplit(h.path)
        req = Request(
            h.command,
            parts.path,
            parse_qs(parts.query),
            {k.lower(): v for k, v in h.headers.items()},
            body,
            time.monotonic(),
        )
        with self.lock:
            self.requests.append(req)
            self.in_flight += 1
            self.max_active = max(self.max_active, self.in_flight)
        try:
            if self.on_request is not None:
                self.on_request(req)
            fault = self._take_fault(req.path)
            if fault and fault.kind == "drop":
                h.close_connection = True
                with __import__("contextlib").suppress(OSError):
                    h.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault and fault.kind == "status":
                resp = Response(fault.code, {"message": fault.message or f"injected {fault.code}"})
            elif fault and fault.kind == "rate":
                resp = Response(429, {"message": "slow down"}, {"Retry-After": str(fault.seconds)})
            elif self._over_rate(time.monotonic()):
                resp = self.rate_limited_response()
            else:
                with self.lock:
                    try:
                        resp = self.handle(req)
                    except Exception as exc:  # a bug in the fake must fail the test
                        self.errors.append(exc)
                        resp = Response(500, {"message": "fake crashed"})
            if fault and fault.kind == "slow":
                time.sleep(fault.seconds)
            if self.delay:
                time.sleep(self.delay)
            self._write(h, resp)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _write(self, h: BaseHTTPRequestHandler, resp: Response) -> None:
        payload = b"" if resp.body is None else json.dumps(resp.body).encode()
        try:
            h.send_response(resp.status)
            headers = {**self.rate_headers(), **resp.headers}
            if payload:
                headers.setdefault("Content-Type", "application/json")
            for key, value in headers.items():
                h.send_header(key, value)
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            if payload:
                h.wfile.write(payload)
        except OSError:
            pass

    def handle(self, req: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError
