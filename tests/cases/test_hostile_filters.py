"""Issue 11: malformed filter values on the triage page and the findings API are a form
error (the page ignores the filter and says so) or a 400 with the reason; never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


HOSTILE_FILTERS = [
    ("created_after", "2026-01-01T00:00:00+99:00"),
    ("created_after", "2026-13-45"),
    ("created_after", "not a date"),
    ("created_before", "2026-01-01T00:00:00-24:00"),
    ("created_before", "9999999-01-01"),
    ("created_after", "0001-01-01T00:00:00+15:00"),
    ("created_before", "9999-12-31T23:59:59-15:00"),
    ("created_after", "2026-01-01T00:00:00+15:59:59.999999"),
    ("created_after", "2026-01-01T00:00:00+23:00"),
    ("status", "nonsense"),
    ("status", ""),
    ("source", "nonsense"),
    ("artist", "abc"),
    ("artist", "1e400"),
    ("artist", "NaN"),
    ("artist", "9" * 40),
    ("artist", "-1"),
    ("platform", "abc"),
    ("platform", "inf"),
    ("platform", "9" * 40),
    ("assignee", "abc"),
    ("assignee", "9" * 40),
    ("sort", "nonsense"),
    ("sort", "-created_at"),
    ("page", "abc"),
    ("page", "-1"),
    ("page", "9" * 40),
    ("cursor", "abc"),
    ("q", "\x00"),
    ("q", "%" * 1000),
]


@pytest.mark.parametrize(("param", "value"), HOSTILE_FILTERS)
def test_the_triage_page_never_500s_on_a_bad_filter(
    client, bob, finding, param: str, value: str
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.get(reverse("finding_list"), {param: value})
    assert response.status_code in (200, 400), response.status_code


@pytest.mark.parametrize(("param", "value"), HOSTILE_FILTERS)
def test_the_findings_api_never_500s_on_a_bad_filter(bob, finding, param: str, value: str) -> None:  # type: ignore[no-untyped-def]
    response = _api(bob).get(reverse("api:finding-list"), {param: value})
    assert response.status_code in (200, 400, 404), response.status_code


def test_an_offset_beyond_15_59_is_400_with_a_message_on_the_api(bob, finding) -> None:  # type: ignore[no-untyped-def]
    response = _api(bob).get(
        reverse("api:finding-list"), {"created_after": "2026-01-01T00:00:00+99:00"}
    )
    assert response.status_code == 400
    assert response.json()["created_after"]


def test_an_offset_within_15_59_filters_normally(bob, finding) -> None:  # type: ignore[no-untyped-def]
    response = _api(bob).get(
        reverse("api:finding-list"), {"created_after": "2000-01-01T00:00:00+15:59"}
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [finding.pk]


def test_an_offset_of_23_hours_is_refused(bob, finding) -> None:  # type: ignore[no-untyped-def]
    # Python accepts it, PostgreSQL does not: it must be a 400, not a database error.
    response = _api(bob).get(
        reverse("api:finding-list"), {"created_after": "2026-01-01T00:00:00+23:00"}
    )
    assert response.status_code == 400
    assert "15:59" in str(response.json()["created_after"])


def test_an_offset_beyond_15_59_is_a_message_on_the_triage_page(client, bob, finding) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.get(reverse("finding_list"), {"created_after": "2026-01-01T00:00:00+99:00"})
    assert response.status_code == 200
    assert "created_after" in response.context["filters"].form.errors
    assert "These filters were ignored" in response.content.decode()
    shown = [row["id"] for row in response.context["page"].items]
    assert finding.pk in shown  # the bad filter narrowed nothing
