"""CDNs and reverse proxies that front other people's sites, recognised from the IP
network's RDAP record, and the abuse process each one publishes.

A finding whose host resolves into one of these networks is *fronted*: the CDN does not
host the file itself; its abuse process forwards the report to the real host (Cloudflare
also discloses the origin host's provider to a complainant with a valid report). The notice
then goes to the CDN's process and, where it can be found, to the origin's host.

Recognition: a regular expression over the network's RDAP name, handle and the names of
its registrant/organisation entities (what the RIR publishes for the block), and for two
CDNs also their published address ranges:
Cloudflare https://www.cloudflare.com/ips-v4 and /ips-v6, Fastly
https://api.fastly.com/public-ip-list (a subset of each)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cdn:
    key: str
    name: str
    pattern: re.Pattern[str]  # over "name handle org" of the network record
    abuse_url: str = ""  # the published abuse form or page ("" when we know of none)
    abuse_email: str = ""  # the published abuse address ("" when we know of none)
    ranges: tuple[str, ...] = ()


CDNS: tuple[Cdn, ...] = (
    Cdn(
        "cloudflare",
        "Cloudflare",
        re.compile(r"cloudflare", re.IGNORECASE),
        abuse_url="https://abuse.cloudflare.com/",
        ranges=(
            "173.245.48.0/20",
            "103.21.244.0/22",
            "103.22.200.0/22",
            "103.31.4.0/22",
            "141.101.64.0/18",
            "108.162.192.0/18",
            "190.93.240.0/20",
            "188.114.96.0/20",
            "197.234.240.0/22",
            "198.41.128.0/17",
            "162.158.0.0/15",
            "104.16.0.0/13",
            "104.24.0.0/14",
            "172.64.0.0/13",
            "131.0.72.0/22",
            "2400:cb00::/32",
            "2606:4700::/32",
            "2803:f800::/32",
            "2405:b500::/32",
            "2405:8100::/32",
            "2a06:98c0::/29",
            "2c0f:f248::/32",
        ),
    ),
    Cdn(
        "cloudfront",
        "Amazon CloudFront",
        re.compile(r"cloudfront|\bamazon-?cf\b", re.IGNORECASE),
        abuse_url="https://support.aws.amazon.com/#/contacts/report-abuse",
        abuse_email="abuse@amazonaws.com",
    ),
    Cdn(
        "akamai",
        "Akamai",
        re.compile(r"akamai", re.IGNORECASE),
        abuse_email="abuse@akamai.com",
    ),
    Cdn(
        "fastly",
        "Fastly",
        # Fastly's ARIN networks are registered as SKYCA-* (its former name, Skycache).
        re.compile(r"fastly|\bskyca-\d+", re.IGNORECASE),
        abuse_email="abuse@fastly.com",
        ranges=("151.101.0.0/16", "199.232.0.0/16", "146.75.0.0/17", "2a04:4e40::/32"),
    ),
    Cdn(
        "imperva",
        "Imperva (Incapsula)",
        re.compile(r"incapsula|imperva", re.IGNORECASE),
    ),
    Cdn(
        "ddos_guard",
        "DDoS-Guard",
        re.compile(r"ddos-?guard", re.IGNORECASE),
        abuse_email="abuse@ddos-guard.net",
    ),
)

_BY_KEY = {cdn.key: cdn for cdn in CDNS}


def cdn_get(key: str) -> Cdn | None:
    return _BY_KEY.get(key)


def cdn_recognise(*, address: str, names: list[str]) -> Cdn | None:
    """The CDN whose published range holds `address`, else the first whose pattern matches
    the network's RDAP names (name, handle, registrant organisations)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    if ip is not None:
        for cdn in CDNS:
            for network in cdn.ranges:
                block = ipaddress.ip_network(network)
                if block.version == ip.version and ip in block:
                    return cdn
    text = " ".join(names)
    for cdn in CDNS:
        if cdn.pattern.search(text):
            return cdn
    return None
