"""Issue 11: the API throttles are active, per user and per token, with the rates of the
settings: a caller over her rate gets a 429 with Retry-After; another user or another token
is unaffected."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agencyguard.settings import core

pytestmark = pytest.mark.django_db


@pytest.fixture
def real_rates(settings):  # type: ignore[no-untyped-def]
    """The rates of the settings (tests/conftest.py switches them off for every other test),
    lowered to a few calls so the test stays short, and an empty throttle cache."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "3/min", "user": "5/min", "token": "3/min"},
    }
    cache.clear()
    yield
    cache.clear()


def _token_client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_the_throttles_are_configured_from_the_settings() -> None:
    classes = core.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]
    assert "cases.kernel.throttling.UserThrottle" in classes
    assert "cases.kernel.throttling.TokenThrottle" in classes
    assert "cases.kernel.throttling.AnonThrottle" in classes
    # "exchange": each partner key of the hash exchange (cases.matching.api.ExchangeThrottle).
    assert set(core.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]) == {
        "anon",
        "user",
        "token",
        "exchange",
    }


def test_a_token_over_its_rate_gets_429_with_retry_after_and_another_token_does_not(
    alice, bob, real_rates
) -> None:  # type: ignore[no-untyped-def]
    url = reverse("api:finding-list")
    alice_client = _token_client(alice)
    for _ in range(3):
        assert alice_client.get(url).status_code == 200
    refused = alice_client.get(url)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused.json()["detail"]
    # Bob's token has its own budget.
    assert _token_client(bob).get(url).status_code == 200


def test_a_user_over_her_rate_gets_429_and_another_user_does_not(alice, bob, real_rates) -> None:  # type: ignore[no-untyped-def]
    url = reverse("api:artist-list")
    session = APIClient()
    session.force_login(alice)
    for _ in range(5):
        assert session.get(url).status_code == 200
    refused = session.get(url)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    other = APIClient()
    other.force_login(bob)
    assert other.get(url).status_code == 200


def test_the_user_budget_spans_her_session_and_her_token(alice, real_rates) -> None:  # type: ignore[no-untyped-def]
    url = reverse("api:artist-list")
    session = APIClient()
    session.force_login(alice)
    for _ in range(5):
        assert session.get(url).status_code == 200
    # Her token is within its own rate (unused so far), but not within hers.
    assert _token_client(alice).get(url).status_code == 429


def test_a_bad_rate_in_the_environment_stops_the_start(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from django.core.exceptions import ImproperlyConfigured

    from agencyguard.settings.env import envrate

    monkeypatch.setenv("API_THROTTLE_USER", "600 per minute")
    with pytest.raises(ImproperlyConfigured, match="API_THROTTLE_USER"):
        envrate("API_THROTTLE_USER", "600/min")
    monkeypatch.setenv("API_THROTTLE_USER", "off")
    assert envrate("API_THROTTLE_USER", "600/min") is None
    monkeypatch.setenv("API_THROTTLE_USER", "20/hour")
    assert envrate("API_THROTTLE_USER", "600/min") == "20/hour"
