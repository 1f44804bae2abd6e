"""The one place where cdp-sync talks HTTP: timeouts, bounded concurrency, rate
limiting, retries with backoff, Retry-After and vendor rate-limit headers.

Destinations build requests and parse responses; they never sleep, retry or
count requests themselves. One :class:`HttpClient` (one ``httpx.Client``,
one connection pool) is created per run and shared by all its batches.

Retried: connection errors, timeouts and dropped connections
(``httpx.TransportError``), 408, 429 and 5xx, plus whatever the destination's
``retryable`` predicate accepts (Mailchimp's bare 403 under load). Delay before
retry *n* (0-based) is ``min(backoff_max, backoff_base * 2**n)`` with "equal
jitter" (half fixed, half random), unless the server said how long to wait
(``Retry-After`` in seconds or as an HTTP date, or the vendor's reset header),
which is honoured as given. A wait longer than ``max_retry_after`` (a daily
quota, say) fails the batch at once instead of hanging the run.

401/403 raise :class:`DestinationAuthError`; other responses (2xx and
non-retryable 4xx) are returned for the destination to interpret.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx

from cdp_sync.config import HttpSettings, RateLimit
from cdp_sync.errors import DestinationAuthError, DestinationUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504}) | frozenset(range(500, 600))
USER_AGENT = "cdp-sync/0.1 (+open-cdp)"


@dataclass(frozen=True)
class RateLimitHeaders:
    """How a vendor announces its rate limit state in response headers."""

    remaining: tuple[str, ...] = ()  # requests left in the current window
    reset: str | None = None  # when the window resets
    reset_unit: Literal["epoch", "seconds", "milliseconds"] = "seconds"
    window_ms: str | None = None  # the window's length (HubSpot's interval header)
    retry_after: tuple[str, ...] = ("Retry-After",)


class RateLimiter:
    """Sliding-window limiter: at most ``limit.requests`` starts per window. Thread-safe."""

    def __init__(self, limit: RateLimit | None, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.clock = clock
        self._starts: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.waited = 0.0

    def pause_for(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock() + max(0.0, seconds))

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self.clock()
                wait = self._paused_until - now
                if wait <= 0 and self.limit is not None:
                    # A small margin: the server's clock starts when a request arrives,
                    # a little after ours, so an exact window would overrun it.
                    window = self.limit.per_seconds * 1.02 + 0.02
                    while self._starts and self._starts[0] <= now - window:
                        self._starts.popleft()
                    if len(self._starts) >= self.limit.requests:
                        wait = self._starts[0] + window - now
                if wait <= 0:
                    if self.limit is not None:
                        self._starts.append(now)
                    return
            wait = min(wait, 60.0) + 0.001
            self.waited += wait
            time.sleep(wait)


@dataclass
class HttpStats:
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: int | None) -> None:
        with self._lock:
            self.requests += 1
            if status is None:
                self.transport_errors += 1
            else:
                self.by_status[status] = self.by_status.get(status, 0) + 1


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def vendor_message(resp: httpx.Response, limit: int = 300) -> str:
    """The human part of an error body (``message``/``detail``/``title``), else the text."""
    try:
        body = resp.json()
    except ValueError:
        text = resp.text.strip()
        return (text[:limit] or resp.reason_phrase or str(resp.status_code)).strip()
    if isinstance(body, dict):
        for key in ("message", "detail", "title", "error", "errorType"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:limit]
    return str(body)[:limit]


class HttpClient:
    """One per run. ``request`` is safe to call from several threads."""

    def __init__(
        self,
        name: str,
        settings: HttpSettings,
        *,
        limits: dict[str, RateLimit | None] | None = None,
        headers_policy: RateLimitHeaders | None = None,
        max_connections: int = 4,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        retryable: Callable[[httpx.Response], bool] | None = None,
        base_url: str = "",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.policy = headers_policy or RateLimitHeaders()
        self.retryable = retryable
        self.max_connections = max(1, max_connections)
        self._sem = threading.BoundedSemaphore(self.max_connections)
        self._limiters = {key: RateLimiter(lim) for key, lim in (limits or {}).items()}
        self._limiters.setdefault("default", RateLimiter(None))
        self.stats = HttpStats()
        self._client = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout, pool=settings.timeout),
            limits=httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
            ),
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            auth=auth,
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def limiter(self, bucket: str) -> RateLimiter:
        return self._limiters.get(bucket) or self._limiters["default"]

    # ---- the retry loop --------------------------------------------------------------

    def request(self, method: str, url: str, *, bucket: str = "default", **kwargs: Any) -> httpx.Response:
        limiter = self.limiter(bucket)
        attempt = 0
        path = httpx.URL(url).path or url
        while True:
            limiter.acquire()
            resp: httpx.Response | None = None
            error: Exception | None = None
            with self._sem:
                try:
                    resp = self._client.request(method, url, **kwargs)
                except httpx.TransportError as exc:
                    error = exc
            self.stats.count(resp.status_code if resp is not None else None)
            if resp is not None:
                self._observe(limiter, resp)
                if not self._should_retry(resp):
                    if resp.status_code in (401, 403):
                        raise DestinationAuthError(
                            f"{self.name}: {resp.status_code} from {method} {path}: "
                            f"{vendor_message(resp)} (check the token/API key)"
                        )
                    return resp
                what = f"{resp.status_code} {vendor_message(resp, 120)}"
            else:
                what = f"{type(error).__name__}: {error}"
            if attempt >= self.settings.max_retries:
                raise DestinationUnavailable(
                    f"{self.name}: {method} {path} failed after {attempt + 1} attempts: {what}"
                )
            delay = self._delay(attempt, resp)
            if delay > self.settings.max_retry_after:
                raise DestinationUnavailable(
                    f"{self.name}: {method} {path}: server asked to wait {delay:.0f}s "
                    f"(more than max_retry_after={self.settings.max_retry_after:.0f}s): {what}"
                )
            if resp is not None and resp.status_code == 429:
                with self.stats._lock:
                    self.stats.throttled += 1
                limiter.pause_for(delay)  # every thread on this bucket waits, not just us
            with self.stats._lock:
                self.stats.retries += 1
            log.warning(
                "%s: %s %s -> %s; retry %d/%d in %.2fs",
                self.name,
                method,
                path,
                what,
                attempt + 1,
                self.settings.max_retries,
                delay,
            )
            time.sleep(delay)
            attempt += 1

    def _should_retry(self, resp: httpx.Response) -> bool:
        if resp.status_code in RETRY_STATUSES:
            return True
        return bool(self.retryable and self.retryable(resp))

    def _server_wait(self, resp: httpx.Response) -> float | None:
        for name in self.policy.retry_after:
            wait = parse_retry_after(resp.headers.get(name))
            if wait is not None:
                return wait
        return self._reset_wait(resp)

    def _reset_wait(self, resp: httpx.Response) -> float | None:
        if self.policy.reset and self.policy.reset in resp.headers:
            try:
                raw = float(resp.headers[self.policy.reset])
            except ValueError:
                return None
            if self.policy.reset_unit == "epoch":
                return max(0.0, raw - time.time())
            if self.policy.reset_unit == "milliseconds":
                return max(0.0, raw / 1000.0)
            return max(0.0, raw)
        if self.policy.window_ms and self.policy.window_ms in resp.headers:
            try:
                return max(0.0, float(resp.headers[self.policy.window_ms]) / 1000.0)
            except ValueError:
                return None
        return None

    def _observe(self, limiter: RateLimiter, resp: httpx.Response) -> None:
        """Pause the bucket when the vendor says the window is used up."""
        for name in self.policy.remaining:
            value = resp.headers.get(name)
            if value is None:
                continue
            try:
                remaining = int(float(value))
            except ValueError:
                continue
            if remaining <= 0 and resp.status_code != 429:
                wait = self._reset_wait(resp)
                if wait is None:
                    wait = 1.0
                # a little margin: the vendor's window closes by its clock, not ours
                limiter.pause_for(min(wait * 1.02 + 0.02, self.settings.max_retry_after))
                log.info("%s: rate-limit window used up; pausing %.2fs", self.name, wait)
                return

    def _delay(self, attempt: int, resp: httpx.Response | None) -> float:
        if resp is not None and resp.status_code == 429:
            wait = self._server_wait(resp)  # Retry-After, else the vendor's reset/window
            if wait is not None:
                return wait
        elif resp is not None:
            for name in self.policy.retry_after:  # e.g. 503 with Retry-After
                wait = parse_retry_after(resp.headers.get(name))
                if wait is not None:
                    return wait
        backoff = min(self.settings.backoff_max, self.settings.backoff_base * (2**attempt))
        return backoff / 2 + random.uniform(0, backoff / 2)

    # ---- fan-out for per-row endpoints --------------------------------------------------

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``fn`` over ``items`` with at most ``max_connections`` in flight, in order."""
        items = list(items)
        if len(items) <= 1 or self.max_connections == 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=self.max_connections) as pool:
            return list(pool.map(fn, items))
