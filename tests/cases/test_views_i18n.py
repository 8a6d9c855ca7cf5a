"""The UI in Korean: the language switcher, page chrome, model choices and the public page."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from cases.templatetags import fragments

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def korean_catalog(settings):  # type: ignore[no-untyped-def]
    """Compile the Korean catalogue when the .mo is missing or older than the .po (setup
    does this too), and drop gettext's cache so that the fresh catalogue is loaded."""
    po = settings.BASE_DIR / "locale" / "ko" / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        call_command("compilemessages", locale=["ko"], ignore_patterns=[".venv"], verbosity=0)
        trans_real._translations = {}
        trans_real._default = None
        fragments._RENDERED.clear()  # rendered with the catalogue it replaces
    yield
    translation.activate(settings.LANGUAGE_CODE)


def test_the_ui_switches_to_korean(client, alice, finding):
    client.force_login(alice)
    response = client.post(
        reverse("set_language"), {"language": "ko", "next": reverse("dashboard")}
    )
    assert response.status_code == 302
    content = client.get(reverse("dashboard")).content.decode()
    assert 'lang="ko"' in content
    assert "대시보드" in content
    assert "분류 대기열" in content
    queue = client.get(reverse("finding_list")).content.decode()
    assert "신규" in queue  # FindingStatus.NEW
    assert "키보드 단축키" in queue
    detail = client.get(reverse("finding_detail", args=[finding.pk])).content.decode()
    assert "상태 변경" in detail
    assert "분류됨" in detail  # an allowed next status


def test_switching_back_to_english(client, alice):
    client.force_login(alice)
    client.post(reverse("set_language"), {"language": "ko"})
    client.post(reverse("set_language"), {"language": "en"})
    content = client.get(reverse("dashboard")).content.decode()
    assert "Dashboard" in content
    assert "대시보드" not in content


def test_messages_from_views_are_translated(client, bob):
    client.force_login(bob)
    client.post(reverse("set_language"), {"language": "ko"})
    response = client.post(reverse("finding_create"), {"url": "https://vimeo.com/1"}, follow=True)
    assert "발견 항목을 기록했습니다." in response.content.decode()


def test_the_public_page_follows_the_browser_language(client, agency):
    response = client.get(reverse("fan_report", args=["aurora"]), HTTP_ACCEPT_LANGUAGE="ko")
    content = response.content.decode()
    assert 'lang="ko"' in content
    assert "신고" in content


def test_the_login_page_in_korean(client):
    client.post(reverse("set_language"), {"language": "ko"})
    content = client.get(reverse("login")).content.decode()
    assert "로그인" in content
    assert 'name="username"' in content


def test_share_parameters_and_the_host_refusal_in_korean(client, alice, agency):
    from cases.agency.models import Platform

    client.force_login(alice)
    client.post(reverse("set_language"), {"language": "ko", "next": reverse("dashboard")})
    assert "공유 파라미터" in client.get(reverse("platform_list")).content.decode()
    platform = Platform.objects.get(agency=agency, name="YouTube")
    response = client.post(
        reverse("platform_update", args=[platform.pk]),
        {
            "name": platform.name,
            "domains": "youtube.com",
            "channel": "web_form",
            "share_params": "si=1",
        },
    )
    assert "파라미터 이름이 아닙니다: si=1." in response.content.decode()
    refused = client.post(reverse("finding_create"), {"url": "http://10.0.0.5/"})
    assert "네트워크 정책이 이 호스트를 거부합니다: 10.0.0.5 is a private address." in (
        refused.content.decode()
    )


def test_the_hash_exchange_pages_speak_korean(client, alice, artist):
    client.force_login(alice)
    client.post(reverse("set_language"), {"language": "ko", "next": reverse("dashboard")})
    page = client.get(reverse("exchange_settings")).content.decode()
    assert "해시 교환" in page and "우리 뱅크를 읽는 파트너" in page
    assert "조작 확인 항목 0건이 게시되어 있습니다." in page
    detail = client.get(reverse("artist_detail", args=[artist.pk])).content.decode()
    assert "파트너 기획사와의 공유 동의" in detail and "동의 기록" in detail
