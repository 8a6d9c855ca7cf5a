"""Issue 11: an API route given an id that is not a number (or too big for the column)
answers 404, never 500."""

from __future__ import annotations

import pytest
from django.urls import get_resolver, reverse
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


def _api_routes_with_pk() -> list[str]:
    api = get_resolver().namespace_dict["api"][1]
    names = []
    for key in api.reverse_dict:
        if not isinstance(key, str):
            continue
        for possibility, _pattern, _defaults, _converters in api.reverse_dict.getlist(key):
            if any("pk" in params for _result, params in possibility):
                names.append(key)
                break
    return sorted(set(names))


API_PK_ROUTES = _api_routes_with_pk()


def test_every_api_detail_route_is_covered() -> None:
    # Guards the discovery above: a change in the router must not leave it testing nothing.
    assert {"finding-detail", "artist-detail", "group-detail", "case-detail"} <= set(API_PK_ROUTES)
    assert {"notice-detail", "platform-detail", "evidence-detections"} <= set(API_PK_ROUTES)


@pytest.mark.parametrize("name", API_PK_ROUTES)
@pytest.mark.parametrize("pk", ["abc", "1e3", "-", "%F0%9F%98%80", "9" * 40])
def test_a_non_numeric_or_huge_id_is_404_never_500(alice, name: str, pk: str) -> None:  # type: ignore[no-untyped-def]
    # Reverse with a placeholder number and put the hostile id in its place, so routes with
    # an <int:pk> converter are requested too (there the resolver itself answers 404).
    kwargs = {"pk": 424242}
    if name == "evidence-detection-retry":
        kwargs["run_pk"] = 424243
    url = reverse(f"api:{name}", kwargs=kwargs).replace("424242", pk).replace("424243", pk)
    client = _api(alice)
    for method in ("get", "post", "patch", "put", "delete"):
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code in (404, 405), (method, url, response.status_code)
