"""The language of the public fan report pages, apart from the staff interface.

Staff pages speak settings.LANGUAGES (English, Korean), chosen by LocaleMiddleware. The fan
pages speak settings.FAN_LANGUAGES, a longer list that is never added to LANGUAGES: the fan
views choose one here and activate it only while they render (`translation.override`), so
nothing else in the request, and no staff page, ever runs in a fan-only language.

The choice, first that applies:
1. `?lang=<code>` (the language switch on the page: plain links, so no script, keyboard
   accessible, and a shared link keeps its language);
2. the `fan_language` cookie, which the switch sets (a cookie of its own: the staff
   `django_language` cookie only accepts LANGUAGES, and a fan's Thai must not set it);
3. the browser's Accept-Language, best quality first, matched by the full tag and then by
   the primary language (`zh-TW`, `zh-HK` and `zh-Hant` are Traditional Chinese; `zh`,
   `zh-CN`, `zh-SG` and `zh-Hans` Simplified; `in` is Indonesian's old code);
4. the language LocaleMiddleware chose for the request (English or Korean)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation.trans_real import parse_accept_lang_header

FAN_LANGUAGE_COOKIE = "fan_language"
FAN_LANGUAGE_PARAM = "lang"
# A year: a fan who picked Thai once still gets Thai next time.
FAN_LANGUAGE_COOKIE_AGE = 365 * 24 * 3600

_TRADITIONAL = {"zh-tw", "zh-hk", "zh-mo", "zh-hant"}
_SIMPLIFIED = {"zh", "zh-cn", "zh-sg", "zh-hans", "zh-my"}
_ALIASES = {"in": "id"}


@dataclass(frozen=True)
class FanLanguage:
    code: str
    name: str  # in the language itself


def fan_languages() -> list[FanLanguage]:
    return [FanLanguage(code, str(name)) for code, name in settings.FAN_LANGUAGES]


def _codes() -> set[str]:
    return {code for code, _name in settings.FAN_LANGUAGES}


def fan_language_match(tag: str) -> str | None:
    """The fan language for one language tag, or None."""
    tag = tag.strip().lower().replace("_", "-")
    codes = _codes()
    if tag in codes:
        return tag
    primary = tag.split("-")[0]
    if primary == "zh":
        # zh-Hant-TW, zh-Hans-CN, zh-TW ...: the script wins, then the region.
        parts = set(tag.split("-")[1:])
        if "hant" in parts or any(f"zh-{part}" in _TRADITIONAL for part in parts):
            found = "zh-hant"
        elif not parts or "hans" in parts or any(f"zh-{p}" in _SIMPLIFIED for p in parts):
            found = "zh-hans"
        else:
            return None
        return found if found in codes else None
    primary = _ALIASES.get(primary, primary)
    return primary if primary in codes else None


def fan_language_from_header(header: str) -> str | None:
    """The best fan language the browser accepts, or None."""
    for tag, _quality in parse_accept_lang_header(header[:1000]):
        if tag == "*":
            continue
        found = fan_language_match(tag)
        if found:
            return found
    return None


@dataclass(frozen=True)
class FanLanguageChoice:
    code: str
    # True when the switch asked for it: the view then remembers it in the cookie.
    from_switch: bool


def fan_language_for(request: HttpRequest) -> FanLanguageChoice:
    """The language a fan page renders in (the order is in the module's docstring)."""
    asked = request.GET.get(FAN_LANGUAGE_PARAM, "")
    if asked and (found := fan_language_match(asked)):
        return FanLanguageChoice(found, from_switch=True)
    cookie = request.COOKIES.get(FAN_LANGUAGE_COOKIE, "")
    if cookie and (found := fan_language_match(cookie)):
        return FanLanguageChoice(found, from_switch=False)
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    if header and (found := fan_language_from_header(header)):
        return FanLanguageChoice(found, from_switch=False)
    return FanLanguageChoice(fan_language_match(get_language() or "en") or "en", False)
