"""The public fan report pages in the fans' languages (settings.FAN_LANGUAGES), while the
staff interface stays in English and Korean (settings.LANGUAGES)."""

from __future__ import annotations

import gettext
import html
import re

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from cases.intake.fan_languages import fan_language_from_header, fan_language_match
from cases.intake.models import FanReport
from cases.templatetags import fragments

pytestmark = pytest.mark.django_db

# Per language: what a browser of a fan in that language sends, and three strings only that
# language's page shows (its "Send report" button, its "Thank you for your report" and the
# required-field error, the last from Django's own catalogue).
LANGUAGES = {
    "en": ("en-GB,en;q=0.9", "Send report", "Thank you for your report", "This field is required."),
    "ko": ("ko-KR,ko;q=0.9,en;q=0.5", "신고하기", "신고해 주셔서 감사합니다", "필수 항목"),
    "ja": (
        "ja-JP,ja;q=0.9,en;q=0.5",
        "報告を送信",
        "ご報告ありがとうございます",
        "この項目は必須です。",
    ),
    "zh-hans": ("zh-CN,zh;q=0.9", "提交举报", "感谢您的举报", "该字段是必填项。"),
    "zh-hant": ("zh-TW,zh;q=0.9", "送出檢舉", "感謝您的檢舉", "此為必需欄位。"),
    "es": (
        "es-419,es;q=0.9",
        "Enviar denuncia",
        "Gracias por su denuncia",
        "Este campo es requerido.",
    ),
    "id": (
        "id-ID,id;q=0.9",
        "Kirim laporan",
        "Terima kasih atas laporan Anda",
        "Bidang ini harus diisi.",
    ),
    "th": ("th-TH,th;q=0.9", "ส่งรายงาน", "ขอบคุณสำหรับการรายงาน", "ฟิลด์นี้จำเป็น"),
    "vi": ("vi-VN,vi;q=0.9", "Gửi báo cáo", "Cảm ơn bạn đã báo cáo", "Trường này là bắt buộc."),
}


def _locale_dir(code: str) -> str:
    return translation.to_locale(code)


@pytest.fixture(autouse=True)
def fan_catalogs(settings):  # type: ignore[no-untyped-def]
    """Compile every catalogue whose .mo is missing or older than its .po (setup does this
    too), and drop gettext's cache so that fresh catalogues are loaded."""
    stale = []
    for code, _name in settings.FAN_LANGUAGES:
        if code == "en":
            continue
        po = settings.BASE_DIR / "locale" / _locale_dir(code) / "LC_MESSAGES" / "django.po"
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(_locale_dir(code))
    if stale:
        call_command("compilemessages", locale=stale, ignore_patterns=[".venv"], verbosity=0)
        trans_real._translations = {}
        trans_real._default = None
        fragments._RENDERED.clear()
    yield
    translation.activate(settings.LANGUAGE_CODE)


def test_every_fan_language_is_listed_and_has_a_catalogue():
    codes = [code for code, _name in settings.FAN_LANGUAGES]
    assert sorted(codes) == sorted(LANGUAGES)
    for code in codes:
        if code != "en":
            po = settings.BASE_DIR / "locale" / _locale_dir(code) / "LC_MESSAGES" / "django.po"
            assert po.exists(), po


def test_the_staff_languages_are_only_english_and_korean():
    assert [code for code, _name in settings.LANGUAGES] == ["en", "ko"]


@pytest.mark.parametrize("code", list(LANGUAGES))
def test_the_page_renders_and_submits_in_the_browsers_language(client, agency, code):
    header, send, thanks, _required = LANGUAGES[code]
    url = reverse("fan_report", args=[agency.slug])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE=header)
    content = page.content.decode()
    assert page.status_code == 200
    assert f'<html lang="{code}">' in content
    assert page["Content-Language"] == code
    assert send in content
    response = client.post(
        url,
        {"url": f"https://vimeo.com/fake-{code}", "website": ""},
        HTTP_ACCEPT_LANGUAGE=header,
    )
    assert response.status_code == 302
    assert FanReport.objects.filter(finding__canonical_url__contains=f"fake-{code}").exists()
    done = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE=header).content.decode()
    assert f'<html lang="{code}">' in done
    assert thanks in done


@pytest.mark.parametrize("code", [code for code in LANGUAGES if code != "en"])
def test_validation_messages_are_in_the_fans_language(client, agency, code):
    header, _send, _thanks, required = LANGUAGES[code]
    url = reverse("fan_report", args=[agency.slug])
    response = client.post(url, {"url": "", "website": ""}, HTTP_ACCEPT_LANGUAGE=header)
    assert response.status_code == 200
    assert required in response.content.decode()
    assert "This field is required." not in response.content.decode()
    assert not FanReport.objects.exists()


def _catalogue(code: str) -> dict[str, str]:
    mo = settings.BASE_DIR / "locale" / _locale_dir(code) / "LC_MESSAGES" / "django.mo"
    with mo.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    return {key: value for key, value in catalog.items() if isinstance(key, str) and key}


def test_every_fan_catalogue_translates_the_same_strings_with_the_same_placeholders():
    reference = _catalogue("ja")
    assert len(reference) >= 30
    for code in ("ja", "zh-hans", "zh-hant", "es", "id", "th", "vi"):
        catalogue = _catalogue(code)
        assert set(catalogue) == set(reference), code
        for msgid, msgstr in catalogue.items():
            assert msgstr.strip(), (code, msgid)
            assert sorted(re.findall(r"%\(\w+\)s", msgid)) == sorted(
                re.findall(r"%\(\w+\)s", msgstr)
            ), (code, msgid)
    # Korean (the staff catalogue) holds every fan string too.
    korean = _catalogue("ko")
    assert set(reference) <= set(korean)


@pytest.mark.parametrize("code", [code for code in LANGUAGES if code != "en"])
def test_no_english_fan_string_is_left_on_the_page(client, agency, code):
    """Every catalogue string the English page shows is gone from the translated page,
    with an error on the form so the error strings are on it too."""
    url = reverse("fan_report", args=[agency.slug])
    data = {"url": "ftp://example.org/x", "website": ""}
    english = client.post(url, data, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    translated = client.post(url, data, HTTP_ACCEPT_LANGUAGE=LANGUAGES[code][0]).content.decode()
    # A string with placeholders is looked for by its longest literal piece.
    pieces = [
        html.escape(max(re.split(r"%\(\w+\)s", msgid), key=len)) for msgid in _catalogue("ja")
    ]
    shown = [piece for piece in pieces if len(piece) >= 8 and piece in english]
    assert len(shown) >= 15
    for piece in shown:
        assert piece not in translated, (code, piece)


def test_the_switch_lists_every_language_by_its_own_name_and_marks_the_current_one(client, agency):
    content = client.get(
        reverse("fan_report", args=[agency.slug]), HTTP_ACCEPT_LANGUAGE="vi"
    ).content.decode()
    for code, name in settings.FAN_LANGUAGES:
        assert f'href="?lang={code}" lang="{code}" hreflang="{code}"' in content
        assert str(name) in content
    assert 'hreflang="vi" aria-current="true"' in content
    assert content.count('aria-current="true"') == 1


def test_the_switch_overrides_the_browser_and_is_remembered(client, agency):
    url = reverse("fan_report", args=[agency.slug])
    switched = client.get(f"{url}?lang=th", HTTP_ACCEPT_LANGUAGE="ja")
    assert '<html lang="th">' in switched.content.decode()
    assert switched.cookies["fan_language"].value == "th"
    # Later visits without the parameter keep Thai, whatever the browser says.
    again = client.get(url, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert '<html lang="th">' in again
    # Posting from the switched page thanks the fan in Thai.
    response = client.post(f"{url}?lang=th", {"url": "https://vimeo.com/fake-th", "website": ""})
    assert response["Location"].endswith("?lang=th")
    assert "ขอบคุณสำหรับการรายงาน" in client.get(response["Location"]).content.decode()


def test_an_unknown_language_in_the_switch_falls_back_to_the_browser(client, agency):
    url = reverse("fan_report", args=[agency.slug])
    response = client.get(f"{url}?lang=xx-evil", HTTP_ACCEPT_LANGUAGE="es")
    assert '<html lang="es">' in response.content.decode()
    assert "fan_language" not in response.cookies


def test_a_browser_in_no_fan_language_gets_english(client, agency):
    response = client.get(
        reverse("fan_report", args=[agency.slug]), HTTP_ACCEPT_LANGUAGE="fr-FR,de"
    )
    assert '<html lang="en">' in response.content.decode()


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("ja-JP", "ja"),
        ("zh", "zh-hans"),
        ("zh-CN", "zh-hans"),
        ("zh-SG", "zh-hans"),
        ("zh-Hans-CN", "zh-hans"),
        ("zh-TW", "zh-hant"),
        ("zh-HK", "zh-hant"),
        ("zh-Hant-HK", "zh-hant"),
        ("zh_Hant", "zh-hant"),
        ("in", "id"),
        ("es-MX", "es"),
        ("th", "th"),
        ("fr", None),
        ("zh-Latn", None),
        ("", None),
    ],
)
def test_language_tags_match_fan_languages(tag, expected):
    assert fan_language_match(tag) == expected


def test_the_best_accepted_fan_language_wins():
    assert fan_language_from_header("fr-FR,fr;q=0.9,vi;q=0.8,ja;q=0.7") == "vi"
    assert fan_language_from_header("*") is None


def test_staff_pages_stay_in_english_for_a_japanese_browser(client, alice):
    client.force_login(alice)
    content = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="ja-JP,ja").content.decode()
    assert '<html lang="en">' in content
    # Neither the fan cookie nor set_language can put a staff page in Japanese.
    client.cookies["fan_language"] = "ja"
    client.post(reverse("set_language"), {"language": "ja"})
    content = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert '<html lang="en">' in content
    assert "報告" not in content


def test_staff_pages_still_follow_korean(client, alice):
    client.force_login(alice)
    client.post(reverse("set_language"), {"language": "ko"})
    content = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert '<html lang="ko">' in content


def test_a_fan_page_leaves_the_staff_language_of_the_request_alone(client, alice, agency):
    """The fan language is active only while the fan view renders."""
    client.force_login(alice)
    client.get(reverse("fan_report", args=[agency.slug]) + "?lang=ja")
    content = client.get(reverse("dashboard")).content.decode()
    assert '<html lang="en">' in content
