"""The canonicalisation fast paths give exactly what the full, character-by-character code
gives: differential tests over many generated components and URLs, hostile ones included."""

from __future__ import annotations

import random

import pytest

from cases.intake import canonical
from cases.intake.canonical import (
    InvalidURL,
    UrlRules,
    canonicalize_url,
    canonicalize_url_host,
    host_of,
)

# Characters that matter to the escaping and dot-segment code, and some that do not.
ALPHABET = [*"aZ09-._~/:@!$&'()*+,;=?#[]% .\\\"<>{}|^`\t", "%2e", "%2E", "%7e", "%41",
    "%e2%82%ac", "%zz", "%", "..", "./", "/..", "/.", "é", "한", "\u200b", "\ufeff", "😀", "//"]  # fmt: skip
SAFES = ["/:@!$&'()*+,;=", ":@!$'()*,;/?"]


def _texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12))) for _ in range(count)]


def test_normalise_escapes_fast_path_is_exact() -> None:
    for text in [*_texts(20000, 1), "", "abc", "/a/b", "a%20b", "~user", "a b", "é"]:
        for safe in SAFES:
            expected = canonical._normalise_escapes_full(text, safe)
            assert canonical._normalise_escapes(text, safe) == expected, (text, safe)


def test_remove_dot_segments_fast_path_is_exact() -> None:
    texts = [*_texts(20000, 2), "/", "", "a", "/a/.b", "/a/..", "/.", "/a/./b", "/a.b/c."]
    for text in texts:
        expected = canonical._remove_dot_segments_full(text)
        assert canonical._remove_dot_segments(text) == expected, text


def test_the_fast_paths_are_taken_and_can_fail() -> None:
    # The contrary cases: a component that needs work is not returned as it is.
    assert canonical._normalise_escapes("a%7eb c", "/") == "a~b%20c"
    assert canonical._remove_dot_segments("/a/./b/../c") == "/a/c"
    assert canonical._remove_dot_segments("a") == "/a"


HOSTS = ["example.com", "WWW.Example.COM.", "bücher.de", "xn--bcher-kva.de", "[2001:db8::1]",
    "[2001:DB8::A]:8443", "1.2.3.4", "8.8.8.8:80", "user:pw@x.com", "a_b.example", "ex%41mple.com",
    "x.com:0", "[::1]", "127.0.0.1", "10.0.0.5", "localhost", "[fe80::1%25eth0]", "a..b.com",
    "-a.com", "%", "x.com:99999", "[v1.x]", "é.com", "xn--.com", "ex ample.com", "ⓔxample.com"]  # fmt: skip
TAILS = ["", "/", "/a/./b/../c", "/%7euser/%e2%82%ac?b=2&a=1", "?utm_source=x&v=1#f",
    "/watch?v=1&si=abc&feature=share", "/p?q=a+b&&=&x", "/한글?키=값", "/a%2fb?%41=%42",
    "/video/1?is_from_webapp=1&sender_device=pc", "/..", "/a?b=%zz"]  # fmt: skip


def _urls() -> list[str]:
    urls = [f"{scheme}{host}{tail}" for scheme in ("https://", "http://", "", "HTTPS://", "ftp://")
            for host in HOSTS for tail in TAILS]  # fmt: skip
    return [*urls, " ", "", "https://", "https://[::1", "javascript:alert(1)", "x" * 5000]


@pytest.mark.parametrize(
    "rules",
    [
        UrlRules(),
        UrlRules(platform_params={"example.com": frozenset({"v"})}, allow_loopback=True),
    ],
)
def test_canonicalize_url_host_matches_host_of(rules: UrlRules) -> None:
    valid = 0
    for raw in _urls():
        try:
            url = canonicalize_url(raw, rules)
        except InvalidURL as exc:
            with pytest.raises(InvalidURL) as again:
                canonicalize_url_host(raw, rules)
            assert (again.value.code, again.value.params) == (exc.code, exc.params)
            continue
        valid += 1
        assert canonicalize_url_host(raw, rules) == (url, host_of(url)), raw
    assert valid > 100  # the comparison ran over valid URLs, not only refusals
