"""The public fan report page in Chromium, in every fan language: chosen from the browser's
language, filled in (one with a screenshot), submitted, thanked in the same language, with no
WCAG A/AA violation; and the language switch, driven from the keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from cases.intake.models import FanReport, FanScreenshot
from tests.e2e.test_accessibility import _axe_source, _violations
from tests.e2e.test_browser import browser, page  # noqa: F401 - fixtures
from tests.matching.images import jpeg_bytes, scene

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The browser's locale, and the page's "Send report" and "Thank you for your report".
LANGUAGES = {
    "ko": ("ko-KR", "신고하기", "신고해 주셔서 감사합니다"),
    "en": ("en-US", "Send report", "Thank you for your report"),
    "ja": ("ja-JP", "報告を送信", "ご報告ありがとうございます"),
    "zh-hans": ("zh-CN", "提交举报", "感谢您的举报"),
    "zh-hant": ("zh-TW", "送出檢舉", "感謝您的檢舉"),
    "es": ("es-ES", "Enviar denuncia", "Gracias por su denuncia"),
    "id": ("id-ID", "Kirim laporan", "Terima kasih atas laporan Anda"),
    "th": ("th-TH", "ส่งรายงาน", "ขอบคุณสำหรับการรายงาน"),
    "vi": ("vi-VN", "Gửi báo cáo", "Cảm ơn bạn đã báo cáo"),
}


def test_the_fan_page_works_in_every_language(browser, live_server, agency, artist, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    axe = _axe_source()
    screenshot = tmp_path / "screenshot.jpg"
    screenshot.write_bytes(jpeg_bytes(scene(21)))
    found: dict[str, list[str]] = {}
    for code, (locale, send, thanks) in LANGUAGES.items():
        context = browser.new_context(base_url=live_server.url, locale=locale)
        tab: Any = context.new_page()
        tab.set_default_timeout(15_000)
        tab.goto(reverse("fan_report", args=[agency.slug]))
        assert tab.locator("html").get_attribute("lang") == code
        found[code] = _violations(tab, axe)
        tab.fill("input[name=url]", f"https://vimeo.com/fake-{code}")
        tab.select_option("select[name=artist]", str(artist.pk))
        tab.fill("textarea[name=description]", f"Seen today ({code})")
        if code == "ja":
            tab.set_input_files("input[name=screenshot]", str(screenshot))
        tab.get_by_role("button", name=send).click()
        tab.wait_for_url("**/thanks/**")
        assert tab.locator("html").get_attribute("lang") == code
        assert tab.locator("h1").inner_text() == thanks
        context.close()
    assert {code: v for code, v in found.items() if v} == {}
    assert FanReport.objects.filter(agency=agency).count() == len(LANGUAGES)
    assert FanScreenshot.objects.get().report.description == "Seen today (ja)"


def test_the_language_switch_works_from_the_keyboard(page, agency):  # type: ignore[no-untyped-def]  # noqa: F811
    page.goto(reverse("fan_report", args=[agency.slug]))
    assert page.locator("html").get_attribute("lang") == "en"
    switch = page.get_by_role("navigation", name="Language").get_by_role("link", name="ไทย")
    switch.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**?lang=th")
    assert page.locator("html").get_attribute("lang") == "th"
    assert page.get_by_role("button", name="ส่งรายงาน").is_visible()
    # Remembered: the plain address stays in Thai.
    page.goto(reverse("fan_report", args=[agency.slug]))
    assert page.locator("html").get_attribute("lang") == "th"
