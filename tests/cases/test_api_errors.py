"""Issue 11: every API operation documents its errors (400/401/403/404/429), and the error
bodies the server sends match the documented schemas."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from django.core.cache import cache
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def openapi(django_db_blocker) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def _documented(openapi: dict[str, Any], path: str, method: str, code: int) -> dict[str, Any]:
    response = openapi["paths"][path][method]["responses"][str(code)]
    schema = response["content"]["application/json"]["schema"]
    # Resolve against the whole document so $refs to components work.
    return {**schema, "components": openapi["components"]}


def _assert_matches(openapi, path, method, response) -> None:  # type: ignore[no-untyped-def]
    schema = _documented(openapi, path, method, response.status_code)
    jsonschema.validate(response.json(), schema, format_checker=jsonschema.FormatChecker())


def test_every_operation_documents_its_errors(openapi) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "429"} <= codes, (method, path, sorted(codes))
            if "{" in path:
                assert "404" in codes, (method, path)
            if "requestBody" in operation:
                assert "400" in codes, (method, path)
            for code in ("400", "401", "403", "404", "429"):
                if code in codes:
                    assert operation["responses"][code]["content"], (method, path, code)
            checked += 1
    assert checked >= 25
    assert "Retry-After" in openapi["paths"]["/api/findings/"]["get"]["responses"]["429"]["headers"]


def test_the_error_bodies_match_their_schemas(openapi, alice, carol, finding) -> None:  # type: ignore[no-untyped-def]
    anonymous = APIClient()
    response = anonymous.get(reverse("api:finding-list"))
    assert response.status_code == 401
    _assert_matches(openapi, "/api/findings/", "get", response)

    viewer = APIClient()
    viewer.force_login(carol)
    response = viewer.post(
        reverse("api:finding-list"), {"url": "https://x.example/1"}, format="json"
    )
    assert response.status_code == 403
    _assert_matches(openapi, "/api/findings/", "post", response)

    admin = APIClient()
    admin.force_login(alice)
    response = admin.get(reverse("api:finding-detail", kwargs={"pk": 999999}))
    assert response.status_code == 404
    _assert_matches(openapi, "/api/findings/{id}/", "get", response)

    response = admin.post(reverse("api:finding-list"), {"url": "http://[::1/"}, format="json")
    assert response.status_code == 400
    _assert_matches(openapi, "/api/findings/", "post", response)

    response = admin.post(reverse("api:finding-list"), "{not json", content_type="application/json")
    assert response.status_code == 400
    _assert_matches(openapi, "/api/findings/", "post", response)

    response = admin.get(
        reverse("api:finding-list"), {"created_after": "2026-01-01T00:00:00+99:00"}
    )
    assert response.status_code == 400
    _assert_matches(openapi, "/api/findings/", "get", response)


def test_a_throttled_body_matches_its_schema(openapi, alice, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "user": "1/min", "token": None},
    }
    cache.clear()
    admin = APIClient()
    admin.force_login(alice)
    assert admin.get(reverse("api:artist-list")).status_code == 200
    response = admin.get(reverse("api:artist-list"))
    assert response.status_code == 429
    _assert_matches(openapi, "/api/artists/", "get", response)
    cache.clear()


def test_the_schema_check_catches_an_undocumented_body(openapi) -> None:  # type: ignore[no-untyped-def]
    schema = _documented(openapi, "/api/findings/{id}/", "get", 404)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"error": "nope"}, schema)
