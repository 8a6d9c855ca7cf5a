"""API authentication, CSRF and the OpenAPI schema."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.crypto import get_random_string
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.intake.models import Finding
from tests.factories import UserFactory

LIST_URLS = ["api:artist-list", "api:group-list", "api:finding-list", "api:case-list"]


def _token_client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_token_auth_works(bob, finding) -> None:  # type: ignore[no-untyped-def]
    response = _token_client(bob).get(reverse("api:finding-list"))
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [finding.pk]


def test_a_wrong_token_is_401(db) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = client.get(reverse("api:finding-list"))
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


@pytest.mark.parametrize("name", LIST_URLS)
def test_unauthenticated_calls_get_401_with_a_json_detail(db, name: str) -> None:
    client = APIClient()
    for response in (client.get(reverse(name)), client.post(reverse(name), {}, format="json")):
        assert response.status_code == 401
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"] == "Authentication credentials were not provided."
        assert response["WWW-Authenticate"] == "Token"


def test_unauthenticated_call_creates_nothing(db, agency) -> None:  # type: ignore[no-untyped-def]
    APIClient().post(reverse("api:finding-list"), {"url": "https://example.com/x"}, format="json")
    assert not Finding.objects.exists()


def test_a_user_without_an_agency_gets_403(db) -> None:  # type: ignore[no-untyped-def]
    response = _token_client(UserFactory(username="drifter")).get(reverse("api:finding-list"))
    assert response.status_code == 403
    assert response.json()["detail"] == "You are not a member of an agency."


def test_a_deactivated_user_cannot_use_the_api(bob) -> None:  # type: ignore[no-untyped-def]
    client = _token_client(bob)
    bob.is_active = False
    bob.save()
    assert client.get(reverse("api:finding-list")).status_code == 401


def test_session_post_without_csrf_token_is_refused(bob) -> None:  # type: ignore[no-untyped-def]
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(bob)
    response = client.post(
        reverse("api:finding-list"), {"url": "https://example.com/csrf"}, format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Finding.objects.exists()


def test_session_post_with_csrf_token_works(bob) -> None:  # type: ignore[no-untyped-def]
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(bob)
    # What a page of ours gives a browser: the CSRF cookie, echoed back in the header.
    token = get_random_string(32)
    client.cookies["csrftoken"] = token
    response = client.post(
        reverse("api:finding-list"),
        {"url": "https://example.com/csrf"},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201


def test_token_post_needs_no_csrf_token(bob) -> None:  # type: ignore[no-untyped-def]
    client = _token_client(bob)
    client.handler.enforce_csrf_checks = True
    response = client.post(
        reverse("api:finding-list"), {"url": "https://example.com/tok"}, format="json"
    )
    assert response.status_code == 201


def test_schema_validates_without_warnings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in (
        "/api/findings/",
        "/api/findings/{id}/status/",
        "/api/cases/{id}/findings/",
        "/api/artists/",
        "/api/groups/",
    ):
        assert f"  {path}:" in text


def test_schema_and_docs_need_a_login(db) -> None:  # type: ignore[no-untyped-def]
    assert APIClient().get(reverse("api:schema")).status_code == 401
    assert APIClient().get(reverse("api:docs")).status_code == 401


def test_docs_page_runs_no_inline_script(carol) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(carol)
    page = client.get(reverse("api:docs"))
    assert page.status_code == 200
    html = page.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts, "the Swagger UI page loads scripts"
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert "script-src 'self'" in page["Content-Security-Policy"]
    script = client.get(reverse("api:docs") + "?script")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert reverse("api:schema") in script.content.decode()


def test_the_browsable_api_renders_every_endpoint(alice, finding) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(alice)
    case = client.post(reverse("api:case-list"), {"title": "A"}, format="json").json()
    paths = [reverse(name) for name in ["api:api-root", *LIST_URLS]] + [
        reverse("api:finding-detail", args=[finding.pk]),
        reverse("api:artist-detail", args=[finding.artists.get().pk]),
        reverse("api:case-detail", args=[case["id"]]),
    ]
    for path in paths:
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html")
    # The findings page offers the recording form (url, artists, notes), not the read-only rows:
    # a JSON body (the API parses JSON only), prefilled with the recording fields.
    page = client.get(reverse("api:finding-list"), HTTP_ACCEPT="text/html").content.decode()
    form = page[page.index('name="_content"') :]
    form = form[: form.index("</textarea>")]
    assert "&quot;url&quot;" in form and "&quot;notes&quot;" in form
    assert "canonical_url" not in form
