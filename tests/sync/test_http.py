"""The HTTP layer: retries, backoff, Retry-After, vendor rate-limit headers,
rate limiting and bounded concurrency, against a loopback fake."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest
from cdp_sync.config import HttpSettings, RateLimit
from cdp_sync.errors import DestinationAuthError, DestinationUnavailable
from cdp_sync.http import HttpClient, RateLimiter, RateLimitHeaders, parse_retry_after

from .fakes.base import FakeAPI, Request, Response


class Echo(FakeAPI):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.processed = 0
        self.answer: Response | None = None
        self.headers: dict[str, str] = {}

    def handle(self, req: Request) -> Response:
        self.processed += 1
        if self.answer is not None:
            return self.answer
        return Response(200, {"ok": True, "n": self.processed}, dict(self.headers))


@pytest.fixture
def echo():
    with Echo() as fake:
        yield fake


def client(fake: FakeAPI, **over: Any) -> HttpClient:
    kw: dict[str, Any] = {
        "timeout": 0.3,
        "connect_timeout": 0.3,
        "max_retries": 3,
        "backoff_base": 0.02,
        "backoff_max": 0.1,
        "max_retry_after": 2.0,
    }
    limits = over.pop("limits", None)
    policy = over.pop("headers_policy", None)
    conns = over.pop("max_connections", 4)
    kw.update(over)
    return HttpClient(
        "test",
        HttpSettings(**kw),
        limits=limits,
        headers_policy=policy,
        max_connections=conns,
        base_url=fake.url,
    )


@pytest.mark.parametrize("code", [500, 502, 503, 504, 408, 429])
def test_retries_transient_statuses(echo: Echo, code: int) -> None:
    echo.inject("status", times=2, code=code)
    with client(echo) as http:
        resp = http.request("POST", "/x", json={})
    assert resp.status_code == 200
    assert len(echo.requests) == 3 and echo.processed == 1
    assert http.stats.retries == 2


def test_retries_dropped_connection_and_timeout(echo: Echo) -> None:
    echo.inject("drop")
    echo.inject("slow", seconds=0.8)  # processed, answer lost to the client's timeout
    with client(echo) as http:
        resp = http.request("POST", "/x", json={})
    assert resp.status_code == 200
    assert len(echo.requests) == 3
    assert echo.processed == 2  # the slow one was applied: resends must be idempotent
    assert http.stats.transport_errors == 2


def test_gives_up_after_max_retries(echo: Echo) -> None:
    echo.inject("status", times=10, code=503)
    with client(echo, max_retries=2) as http, pytest.raises(DestinationUnavailable) as err:
        http.request("POST", "/x")
    assert len(echo.requests) == 3
    assert "after 3 attempts" in err.value.message and "503" in err.value.message


def test_connection_refused_is_unavailable() -> None:
    fake = Echo().start()
    url = fake.url
    fake.stop()
    http = HttpClient("t", HttpSettings(max_retries=1, backoff_base=0.01), base_url=url)
    with pytest.raises(DestinationUnavailable) as err:
        http.request("GET", "/")
    assert "ConnectError" in err.value.message
    http.close()


def test_retry_after_is_honoured(echo: Echo) -> None:
    echo.inject("rate", seconds=0.4)
    with client(echo) as http:
        start = time.monotonic()
        assert http.request("GET", "/x").status_code == 200
        assert time.monotonic() - start >= 0.4
    assert http.stats.throttled == 1


def test_retry_after_too_long_fails_fast(echo: Echo) -> None:
    echo.inject("rate", seconds=3600)
    with client(echo) as http, pytest.raises(DestinationUnavailable) as err:
        start = time.monotonic()
        http.request("GET", "/x")
    assert time.monotonic() - start < 1
    assert "asked to wait 3600s" in err.value.message


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.5") == 0.5
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after(date, now=now) or 0) <= 31
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_non_retryable_client_errors_are_returned(echo: Echo) -> None:
    echo.answer = Response(400, {"message": "bad"})
    with client(echo) as http:
        assert http.request("POST", "/x").status_code == 400
    assert len(echo.requests) == 1


def test_auth_errors_raise(echo: Echo) -> None:
    echo.answer = Response(401, {"message": "Invalid API key"})
    with client(echo) as http, pytest.raises(DestinationAuthError) as err:
        http.request("GET", "/x")
    assert err.value.exit_code == 5 and "Invalid API key" in err.value.message
    assert len(echo.requests) == 1


def test_backoff_is_exponential_with_jitter(echo: Echo) -> None:
    with client(echo, backoff_base=1.0, backoff_max=8.0) as http:
        delays = [[http._delay(n, None) for _ in range(50)] for n in range(5)]
    for n, ds in enumerate(delays):
        cap = min(8.0, 2.0**n)
        assert all(cap / 2 <= d <= cap for d in ds)
        assert len(set(ds)) > 1  # jittered


def test_rate_limiter_keeps_under_the_published_limit() -> None:
    # the fake's window is a little shorter: clocks differ, and a loaded machine delays us
    with Echo(rate=(5, 0.45)) as fake:
        with client(fake, limits={"default": RateLimit(requests=5, per_seconds=0.5)}) as http:
            start = time.monotonic()
            for _ in range(12):
                assert http.request("GET", "/x").status_code == 200
            elapsed = time.monotonic() - start
        assert fake.rate_limited == 0
        assert elapsed >= 1.0  # 12 requests at 5 per 0.5 s need at least two full windows
    limiter = RateLimiter(None)
    limiter.acquire()  # no limit: never waits
    assert limiter.waited == 0


def test_without_limiter_the_fake_throttles_and_client_recovers() -> None:
    with Echo(rate=(3, 0.3)) as fake:
        with client(fake, max_retries=10) as http:
            for _ in range(8):
                assert http.request("GET", "/x").status_code == 200
        assert fake.rate_limited > 0 and http.stats.throttled == fake.rate_limited


def test_vendor_remaining_header_pauses(echo: Echo) -> None:
    echo.headers = {
        "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "300",
    }
    policy = RateLimitHeaders(
        remaining=("X-HubSpot-RateLimit-Remaining",),
        window_ms="X-HubSpot-RateLimit-Interval-Milliseconds",
    )
    with client(echo, headers_policy=policy) as http:
        http.request("GET", "/x")
        start = time.monotonic()
        http.request("GET", "/x")
        assert time.monotonic() - start >= 0.3


def test_epoch_reset_header_used_for_429(echo: Echo) -> None:
    echo.inject("status", code=429)
    policy = RateLimitHeaders(reset="X-RateLimit-Reset", reset_unit="epoch")
    echo.headers = {}
    # the fake's 429 carries no Retry-After: reset header absent -> backoff applies
    with client(echo, headers_policy=policy) as http:
        assert http.request("GET", "/x").status_code == 200


def test_bounded_concurrency() -> None:
    with Echo(delay=0.15) as fake:
        with client(fake, max_connections=3, timeout=2) as http:
            results = http.map(lambda i: http.request("GET", f"/x/{i}").status_code, range(9))
        assert results == [200] * 9
        assert fake.max_active <= 3
        assert fake.max_active >= 2
