from __future__ import annotations

import pytest

from cases.intake.canonical import InvalidURL, canonicalize_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://WWW.Example.COM/a", "https://www.example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/a?utm_source=x&utm_medium=y&id=3", "https://example.com/a?id=3"),
        ("https://example.com/a?fbclid=1&gclid=2&igshid=3&si=4&v=9", "https://example.com/a?v=9"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/%7euser/%e2%82%ac", "https://example.com/~user/%E2%82%AC"),
        ("https://example.com/a b".replace(" ", "%20"), "https://example.com/a%20b"),
        ("https://bücher.de/x", "https://xn--bcher-kva.de/x"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("example.com/watch?v=1", "https://example.com/watch?v=1"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://user:pw@example.com/a", "https://example.com/a"),
        ("https://example.com/a?q=a+b", "https://example.com/a?q=a%20b"),
    ],
)
def test_canonical_form(raw: str, expected: str) -> None:
    assert canonicalize_url(raw) == expected


def test_tracking_and_order_variants_share_one_form() -> None:
    a = canonicalize_url("https://x.com/p/1?ref=a&utm_campaign=z#top")
    b = canonicalize_url("HTTPS://X.COM:443/p/1?utm_source=t&ref=a")
    assert a == b


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("javascript:alert(1)", "Only http and https"),
        ("ftp://example.com/file", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("data:text/html,hi", "Only http and https"),
        ("https://", "no host"),
        ("https://localhost/a", "local host name"),
        ("https://intranet/a", "not a public domain"),
        ("https://example.com:99999/", "port"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com/" + "a" * 5000, "longer than"),
        ("https://xn--zz/", "not valid"),
    ],
)
def test_invalid_urls_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidURL, match=reason):
        canonicalize_url(raw)
