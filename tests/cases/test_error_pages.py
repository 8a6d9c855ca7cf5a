"""Branded error pages (400, 403, 404, 500, CSRF failure) in English and Korean, with
navigation, as served with DEBUG=False."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.template import loader
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.cases.test_views_i18n import korean_catalog  # noqa: F401 - autouse fixture

pytestmark = [pytest.mark.urls("tests.cases.error_urls")]


@pytest.fixture(autouse=True)
def _production_mode(settings):  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The manifest storage needs collectstatic; the page, not the storage, is under test.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def _ko(client: Client) -> Client:
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "ko"
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "title", "link"),
    [("en", "Page not found", "Log in"), ("ko", "페이지를 찾을 수 없습니다", "로그인")],
)
def test_anonymous_404_is_branded_with_a_way_on(client, language, title, link) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 404
    content = response.content.decode()
    assert 'data-error-page="404"' in content
    assert f'lang="{language}"' in content
    assert title in content
    assert f'href="{reverse("login")}">{link}</a>' in content
    assert "Not Found" not in content  # not Django's bare page


@pytest.mark.django_db
def test_a_member_404_keeps_the_sidebar_navigation_in_korean(client, bob) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = _ko(client).get(reverse("finding_detail", args=[999_999]))
    assert response.status_code == 404
    content = response.content.decode()
    assert 'data-error-page="404"' in content
    assert "페이지를 찾을 수 없습니다" in content
    assert 'class="sidebar"' in content
    assert "분류 대기열" in content  # the triage queue, in the sidebar and in the links


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "title"), [("en", "Access denied"), ("ko", "접근 권한이 없습니다")]
)
def test_a_viewer_gets_the_branded_403(client, carol, language, title) -> None:  # type: ignore[no-untyped-def]
    client.force_login(carol)
    response = client.get(reverse("staff_list"), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 403
    content = response.content.decode()
    assert 'data-error-page="403"' in content
    assert title in content
    assert f'href="{reverse("dashboard")}"' in content


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "title"), [("en", "Server error"), ("ko", "서버 오류")])
def test_a_bug_shows_the_branded_500(language, title) -> None:  # type: ignore[no-untyped-def]
    client = Client(raise_request_exception=False)
    response = client.get("/__test__/boom/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 500
    content = response.content.decode()
    assert 'data-error-page="500"' in content
    assert f'lang="{language}"' in content
    assert title in content
    assert 'href="/"' in content
    assert "a bug, on purpose" not in content


def test_the_500_page_renders_without_request_or_database() -> None:
    """No django_db mark: any query would fail the test. Django's server_error renders
    the template with an empty context, as here."""
    with translation.override("ko"):
        content = loader.get_template("500.html").render()
    assert "서버 오류" in content
    assert 'data-error-page="500"' in content


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "title"), [("en", "Bad request"), ("ko", "잘못된 요청")])
def test_a_malformed_request_shows_the_branded_400(client, language, title) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/__test__/suspicious/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 400
    content = response.content.decode()
    assert 'data-error-page="400"' in content
    assert title in content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "title"), [("en", "The form has expired"), ("ko", "양식이 만료되었습니다")]
)
def test_a_form_without_its_csrf_token_shows_the_branded_page(bob, language, title) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("login"),
        {"username": "bob", "password": "x"},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 403
    content = response.content.decode()
    assert 'data-error-page="403-csrf"' in content
    assert title in content


def test_a_database_lock_timeout_is_a_503_to_retry_not_a_500(db) -> None:  # type: ignore[no-untyped-def]
    """SQLite (the embedded stack) under a burst of writes: a request that waited out the
    busy timeout is told to retry; nothing was saved."""
    client = Client(raise_request_exception=False)
    page = client.get("/__test__/locked/")
    assert page.status_code == 503
    assert page["Retry-After"] == "5"
    assert "Nothing was saved" in page.content.decode()
    api = client.get("/api/__test__/locked/")
    assert api.status_code == 503 and api["Retry-After"] == "5"
    assert "Nothing was saved" in api.json()["detail"]
    # Any other database error is still the server error it is.
    assert client.get("/__test__/operational/").status_code == 500
