"""The public fan report page at its edges: a body limit checked before the body is read, a
moving-window rate limit keyed on the real client address, and a cache outage."""

from __future__ import annotations

import io
import types
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.middleware.csrf import CSRF_SECRET_LENGTH
from django.template.defaultfilters import filesizeformat
from django.test import RequestFactory
from django.test.client import ClientHandler
from django.urls import reverse
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter

from cases.intake.models import FanReport, Finding
from cases.kernel import ratelimit
from cases.kernel.ratelimit import client_address, rate_limit_hit

pytestmark = pytest.mark.django_db

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


class WatchedStream(io.RawIOBase):
    """A request body that tells whether anything read it (and holds nothing)."""

    was_read = False

    def read(self, *args: Any) -> bytes:
        self.was_read = True
        return b""

    def readline(self, *args: Any) -> bytes:
        self.was_read = True
        return b""


def _post_watched(path: str, **environ: str) -> tuple[Any, WatchedStream]:
    """POST through every middleware with CSRF checks on, as a WSGI server would."""
    request_environ = RequestFactory()._base_environ(
        REQUEST_METHOD="POST",
        PATH_INFO=path,
        CONTENT_TYPE="application/x-www-form-urlencoded",
        # A CSRF cookie, so the CSRF check goes on to read the token from the body.
        HTTP_COOKIE=f"csrftoken={'a' * CSRF_SECRET_LENGTH}",
        **environ,
    )
    stream = request_environ["wsgi.input"] = WatchedStream()
    return ClientHandler(enforce_csrf_checks=True)(request_environ), stream


def test_a_large_body_is_refused_with_413_before_it_is_read(agency) -> None:  # type: ignore[no-untyped-def]
    response, body = _post_watched("/report/aurora/", CONTENT_LENGTH=str(10 * 1024 * 1024))
    assert response.status_code == 413
    assert not body.was_read
    assert f"at most {filesizeformat(settings.FAN_REPORT_MAX_BYTES)}" in response.content.decode()
    assert not FanReport.objects.exists()


def test_a_body_without_a_declared_length_is_refused_with_411(agency) -> None:  # type: ignore[no-untyped-def]
    for environ in ({"HTTP_TRANSFER_ENCODING": "chunked"}, {}, {"CONTENT_LENGTH": "-5"}):
        response, body = _post_watched("/report/aurora/", **environ)
        assert response.status_code == 411
        assert "state their length" in response.content.decode()
        assert not body.was_read


def test_the_check_runs_before_csrf_reads_the_body(agency, settings) -> None:  # type: ignore[no-untyped-def]
    # The contrary cases, which show that the watched stream sees the CSRF check's read: a
    # body within the limit, and a large one without the middleware.
    assert _post_watched("/report/aurora/", CONTENT_LENGTH="100")[1].was_read
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("BodyLimitMiddleware")]
    assert _post_watched("/report/aurora/", CONTENT_LENGTH=str(10 * 1024 * 1024))[1].was_read


def test_a_report_at_the_limit_is_accepted(client, agency, settings) -> None:  # type: ignore[no-untyped-def]
    description = "유" * 5000  # the form's longest description, 45 KB once encoded
    response = client.post(
        reverse("fan_report", args=["aurora"]),
        {"url": "https://vimeo.com/" + "a" * 4000, "description": description, "website": ""},
    )
    assert response.status_code == 302
    assert FanReport.objects.get().description == description


def test_other_pages_keep_the_general_limit(admin_client) -> None:  # type: ignore[no-untyped-def]
    # Only views marked with body_limit are checked; a chunked POST elsewhere is not refused here.
    request_environ = RequestFactory()._base_environ(
        REQUEST_METHOD="POST", PATH_INFO="/login/", HTTP_TRANSFER_ENCODING="chunked"
    )
    request_environ["wsgi.input"] = io.BytesIO(b"")
    assert ClientHandler()(request_environ).status_code not in (411, 413)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:  # type: ignore[no-untyped-def]
    fake = FakeClock()
    monkeypatch.setattr("limits.storage.memory.time", fake)
    monkeypatch.setattr(
        "cases.kernel.ratelimit.time", types.SimpleNamespace(time=fake.time, monotonic=fake.time)
    )
    return fake


def _accepted_at(limiter: RateLimiter, clock: FakeClock, times: list[float]) -> list[float]:
    item, start, accepted = parse("2/minute"), clock.now, []
    for offset in times:
        clock.now = start + offset
        if limiter.hit(item, "fan_report", "203.0.113.5"):
            accepted.append(offset)
    return accepted


def _most_in_any_minute(accepted: list[float]) -> int:
    return max(sum(1 for t in accepted if start <= t < start + 60) for start in accepted)


BURST_AT_THE_EDGE = [0.0, 59.5, 59.7, 60.2, 60.4, 60.6, 119.0, 120.5]


def test_a_fixed_window_would_double_the_burst_at_its_edge(clock) -> None:  # type: ignore[no-untyped-def]
    # The contrary case, so the next test can fail: the old kind of limit.
    accepted = _accepted_at(FixedWindowRateLimiter(MemoryStorage()), clock, BURST_AT_THE_EDGE)
    assert _most_in_any_minute(accepted) > 2


def test_the_moving_window_never_allows_more_than_the_rate_in_any_minute(clock) -> None:  # type: ignore[no-untyped-def]
    accepted = _accepted_at(MovingWindowRateLimiter(MemoryStorage()), clock, BURST_AT_THE_EDGE)
    assert _most_in_any_minute(accepted) == 2
    assert accepted == [0.0, 59.5, 60.2, 120.5]


def test_the_page_refuses_the_edge_burst_and_says_when_to_retry(
    client, agency, settings, clock
) -> None:  # type: ignore[no-untyped-def]
    settings.FAN_REPORT_RATE = "2/m"
    url, start = reverse("fan_report", args=["aurora"]), clock.now
    statuses = []
    for n, offset in enumerate([59.5, 59.7, 60.2, 60.4]):
        clock.now = start + offset
        response = client.post(url, {"url": f"https://vimeo.com/{n}", "website": ""})
        statuses.append(response.status_code)
    assert statuses == [302, 302, 429, 429]
    # The first accepted report leaves the window 60 s after it came: 59.5 + 60 - 60.4.
    assert response["Retry-After"] == "60"
    clock.now = start + 119.6
    assert client.post(url, {"url": "https://vimeo.com/9", "website": ""}).status_code == 302
    assert Finding.objects.count() == 3


def test_the_limit_keys_on_the_client_behind_the_trusted_proxies(settings) -> None:  # type: ignore[no-untyped-def]
    factory = RequestFactory()
    request = factory.post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.2"  # no proxy: the header is ignored
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "198.51.100.7"
    # A client may write anything before the entry our proxy sets.
    spoofed = factory.post(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7"
    )
    assert client_address(spoofed) == "198.51.100.7"
    garbled = factory.post("/", REMOTE_ADDR="garbage", HTTP_X_FORWARDED_FOR="garbage")
    assert client_address(garbled) == "unknown"
    v6 = factory.post("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="2001:db8:1:2:aaaa::1")
    other_host_same_64 = factory.post(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="2001:db8:1:2:bbbb::9"
    )
    assert client_address(v6) == client_address(other_host_same_64) == "2001:db8:1:2::/64"


def test_reports_from_different_addresses_are_counted_apart(client, agency, settings) -> None:  # type: ignore[no-untyped-def]
    settings.FAN_REPORT_RATE = "1/h"
    url = reverse("fan_report", args=["aurora"])
    data = {"url": "https://vimeo.com/1", "website": ""}
    assert client.post(url, data, REMOTE_ADDR="198.51.100.1").status_code == 302
    assert client.post(url, data, REMOTE_ADDR="198.51.100.1").status_code == 429
    assert client.post(url, data, REMOTE_ADDR="198.51.100.2").status_code == 302


@pytest.fixture
def cache_down(settings) -> None:  # type: ignore[no-untyped-def]
    """Redis (cache and rate-limit storage) at a port where nothing listens."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED_PORT_REDIS,
        }
    }
    settings.RATE_LIMIT_STORAGE_URL = CLOSED_PORT_REDIS
    with pytest.raises(Exception, match=r"(?i)connect"):
        cache.get("anything")


def test_with_the_cache_down_a_report_is_accepted_and_stored(
    client, agency, cache_down, caplog
) -> None:  # type: ignore[no-untyped-def]
    url = reverse("fan_report", args=["aurora"])
    assert client.get(url).status_code == 200
    response = client.post(url, {"url": "https://vimeo.com/outage", "website": ""})
    assert response.status_code == 302
    assert FanReport.objects.get().finding.url == "https://vimeo.com/outage"
    assert "Rate limit storage unreachable" in caplog.text
    assert client.get(response["Location"]).status_code == 200


def test_with_the_cache_down_the_limit_still_holds_in_the_process(
    client, agency, cache_down, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.FAN_REPORT_RATE = "2/h"
    url = reverse("fan_report", args=["aurora"])
    statuses = [
        client.post(url, {"url": f"https://vimeo.com/{n}", "website": ""}).status_code
        for n in range(3)
    ]
    assert statuses == [302, 302, 429]
    assert Finding.objects.count() == 2
    decision = rate_limit_hit(scope="fan_report", key="127.0.0.1", rate="2/h")
    assert not decision.allowed and not decision.shared


def test_the_shared_storage_is_retried_after_a_minute(settings, clock) -> None:  # type: ignore[no-untyped-def]
    settings.RATE_LIMIT_STORAGE_URL = CLOSED_PORT_REDIS
    assert not rate_limit_hit(scope="s", key="k", rate="5/h").shared
    settings.RATE_LIMIT_STORAGE_URL = "memory://"
    assert not rate_limit_hit(scope="s", key="k", rate="5/h").shared
    clock.now += ratelimit.RETRY_SHARED_AFTER_S + 1
    assert rate_limit_hit(scope="s", key="k", rate="5/h").shared


def test_rates_in_either_notation(settings) -> None:  # type: ignore[no-untyped-def]
    assert ratelimit.rate_parse("10/h") == parse("10 per hour")
    assert ratelimit.rate_parse("5/10m") == parse("5 per 10 minutes")
    assert ratelimit.rate_parse("3 per day") == parse("3/day")
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        ratelimit.rate_parse("lots")


def test_a_missing_or_misplaced_body_limit_middleware_fails_the_checks(settings) -> None:  # type: ignore[no-untyped-def]
    from cases.kernel.bodylimit import MIDDLEWARE_PATH, body_limit_middleware_check

    assert body_limit_middleware_check() == []
    middleware = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    settings.MIDDLEWARE = middleware
    assert [e.id for e in body_limit_middleware_check()] == ["cases.E150"]
    settings.MIDDLEWARE = [*middleware, MIDDLEWARE_PATH]
    assert "comes after" in body_limit_middleware_check()[0].msg


def test_a_rate_that_does_not_parse_fails_the_checks(settings) -> None:  # type: ignore[no-untyped-def]
    from cases.intake.checks import fan_report_rate_check

    assert fan_report_rate_check() == []
    settings.FAN_REPORT_RATE = "lots"
    assert [e.id for e in fan_report_rate_check()] == ["cases.E151"]
