"""The SSRF table: hostile hosts, addresses and URLs that the capture must never visit."""

from __future__ import annotations

import pytest

from cases.kernel.net.policy import Policy, PolicyRefused, check_address, check_url, parse_host

# Hosts that mean an internal address, in every spelling we know browsers or libc accept.
HOSTILE_HOSTS = [
    ("2130706433", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0x7F.0.0.0x1", "127.0.0.1"),
    ("0177.1", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("127.0.0.1.", "127.0.0.1"),
    ("%31%32%37.0.0.1", "127.0.0.1"),
    ("\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11", "127.0.0.1"),  # full-width
    ("0", "0.0.0.0"),
    ("0.0.0.0", "0.0.0.0"),
    ("10.0.0.1", "10.0.0.1"),
    ("012.1", "10.0.0.1"),
    ("172.16.0.1", "172.16.0.1"),
    ("192.168.0.1", "192.168.0.1"),
    ("3232235521", "192.168.0.1"),
    ("100.64.0.1", "100.64.0.1"),
    ("169.254.169.254", "169.254.169.254"),
    ("0xa9fea9fe", "169.254.169.254"),
    ("224.0.0.1", "224.0.0.1"),
    ("255.255.255.255", "255.255.255.255"),
    ("240.0.0.1", "240.0.0.1"),
    ("198.18.0.1", "198.18.0.1"),
    ("192.0.2.1", "192.0.2.1"),
    ("192.0.0.170", "192.0.0.170"),
    ("[::]", "::"),
    ("[::1]", "::1"),
    ("[0:0:0:0:0:0:0:1]", "::1"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
    ("[0:0:0:0:0:ffff:7f00:1]", "::ffff:7f00:1"),
    ("[::ffff:a9fe:a9fe]", "::ffff:a9fe:a9fe"),
    ("[::127.0.0.1]", "::7f00:1"),
    ("[::8.8.8.8]", "::808:808"),
    ("[64:ff9b::a00:1]", "64:ff9b::a00:1"),
    ("[64:ff9b::127.0.0.1]", "64:ff9b::7f00:1"),
    ("[64:ff9b:1::808:808]", "64:ff9b:1::808:808"),
    ("[2002:7f00:1::]", "2002:7f00:1::"),
    ("[2002:a9fe:a9fe::1]", "2002:a9fe:a9fe::1"),
    ("[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "2001:0:4136:e378:8000:63bf:3fff:fdd2"),
    ("[2001:db8::1]", "2001:db8::1"),
    ("[fd00::1]", "fd00::1"),
    ("[fc00::1]", "fc00::1"),
    ("[fe80::1]", "fe80::1"),
    ("[fec0::1]", "fec0::1"),
    ("[ff02::1]", "ff02::1"),
    ("[100::1]", "100::1"),
    ("[::ffff:0:7f00:1]", "::ffff:0:7f00:1"),
]


@pytest.mark.parametrize(("host", "canonical"), HOSTILE_HOSTS)
def test_hostile_host_is_normalised_and_refused(host: str, canonical: str) -> None:
    assert parse_host(host) == canonical
    with pytest.raises(PolicyRefused) as refused:
        check_address(parse_host(host))
    assert canonical in refused.value.reason


@pytest.mark.parametrize(("host", "_canonical"), HOSTILE_HOSTS)
def test_hostile_host_in_a_url_is_refused_without_any_lookup(host: str, _canonical: str) -> None:
    with pytest.raises(PolicyRefused):
        check_url(f"http://{host}/", Policy())


@pytest.mark.parametrize(
    ("address", "meaning"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.31.255.255", "private"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("169.254.169.254", "link-local"),
        ("198.19.0.1", "benchmarking"),
        ("203.0.113.5", "documentation"),
        ("239.255.255.250", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("fe80::1%eth0", "zone"),
        ("::ffff:10.0.0.1", "IPv4-mapped"),
        ("64:ff9b::192.168.1.1", "NAT64"),
        ("2002:c0a8:0101::1", "6to4"),
        ("2001::1", "Teredo"),
        ("fd12:3456::1", "unique-local"),
    ],
)
def test_refusal_says_what_kind_of_address_it_is(address: str, meaning: str) -> None:
    with pytest.raises(PolicyRefused) as refused:
        check_address(address)
    assert meaning in refused.value.reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "2606:4700::1111",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",  # mapped, but what it reaches is public
        "64:ff9b::808:808",  # NAT64 synthesis of a public address
        "2002:808:808::1",  # 6to4 of a public address
    ],
)
def test_public_address_is_allowed(address: str) -> None:
    check_address(address)


def test_allow_loopback_opens_plain_loopback_only() -> None:
    check_address("127.0.0.1", allow_loopback=True)
    check_address("::1", allow_loopback=True)
    for address in (
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
        "10.0.0.1",
        "169.254.169.254",
        "0.0.0.0",
    ):
        with pytest.raises(PolicyRefused):
            check_address(address, allow_loopback=True)


@pytest.mark.parametrize(
    "host",
    [
        "256.0.0.1",
        "1.2.3.4.5",
        "0x100000000",
        "127..1",
        "example.123",
        "0xfg.1",
        "[::1%25eth0]",
        "[v1.x]",
    ],
)
def test_malformed_numeric_host_is_refused(host: str) -> None:
    with pytest.raises(PolicyRefused):
        parse_host(host)


def test_names_are_lowercased_and_idna_encoded() -> None:
    assert parse_host("ExAmple.COM.") == "example.com"
    assert parse_host("m\u00fcnchen.de") == "xn--mnchen-3ya.de"
    assert parse_host("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com") == "example.com"
    assert parse_host("cdn_edge.example.com") == "cdn_edge.example.com"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://example.com:70/_GET", "scheme 'gopher'"),
        ("ftp://example.com/", "scheme 'ftp'"),
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("//example.com/", "scheme '(none)'"),
        ("http://127.0.0.1@evil.com/", "user name"),
        ("http://evil.com@127.0.0.1/", "user name"),
        ("http://user:pass@example.com/", "user name"),
        ("http://evil.com\\@127.0.0.1/", "backslash"),
        ("http:/\\127.0.0.1/", "backslash"),
        ("http://example.com%40127.0.0.1/", "not allowed"),
        ("http://exa mple.com/", "control characters"),
        ("http://127.0.0.1\t/", "control characters"),
        ("http://example.com:22/", "Port 22"),
        ("http://example.com:6379/", "Port 6379"),
        ("https://example.com:99999/", "port number"),
        ("http:///path", "no host"),
        ("http://localhost/", "local host name"),
        ("http://admin.localhost/", "local host name"),
        ("http://intranet/", "not a public domain"),
        ("HTTP://0x7f.1/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[fe80::1%25eth0]/", "zone"),
    ],
)
def test_hostile_url_is_refused_with_a_reason(url: str, words: str) -> None:
    with pytest.raises(PolicyRefused) as refused:
        check_url(url, Policy())
    assert words in refused.value.reason


def test_checked_url_is_what_the_fetcher_will_request() -> None:
    target = check_url("HTTPS://Example.COM./a%20b/\u00e9?q=\u00e9#frag", Policy())
    assert target.host == "example.com"
    assert target.port == 443
    assert target.host_header == "example.com"
    assert target.request_target == "/a%20b/%C3%A9?q=%C3%A9"
    assert target.url == "https://example.com/a%20b/%C3%A9?q=%C3%A9"


def test_non_default_port_appears_in_host_header_when_allowed() -> None:
    target = check_url("http://[2606:4700::1111]:8080/x", Policy(allowed_ports=frozenset({8080})))
    assert target.host == "2606:4700::1111"
    assert target.host_header == "[2606:4700::1111]:8080"
    assert target.is_ip_literal


def test_policy_cannot_allow_other_schemes() -> None:
    with pytest.raises(ValueError, match="Unsupported schemes"):
        Policy(allowed_schemes=frozenset({"http", "ftp"}))


def test_policy_cannot_override_the_host_header() -> None:
    with pytest.raises(ValueError, match="extra_headers"):
        Policy(extra_headers=(("HOST", "169.254.169.254"),))
