"""The IANA RDAP bootstrap files (RFC 9224): which RDAP server answers for a domain's TLD or
an IP address.

A copy is bundled in `data/` (partial: see data/README.md); `manage.py
rdap_bootstrap_refresh` writes IANA's current files into RDAP_BOOTSTRAP_DIR, which wins
over the bundled copy when it holds a file."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUNDLED_DIR = Path(__file__).resolve().parent / "data"
KINDS = ("dns", "ipv4", "ipv6")
IANA_URLS = {kind: f"https://data.iana.org/rdap/{kind}.json" for kind in KINDS}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BootstrapError(ValueError):
    """A bootstrap file that is not in the RFC 9224 format."""


@dataclass(frozen=True)
class Bootstrap:
    """The three registries, as lookup tables."""

    domains: dict[str, tuple[str, ...]]  # lower-case TLD (or label suffix) -> base URLs
    networks: tuple[tuple[Network, tuple[str, ...]], ...]  # longest prefix first
    publication: dict[str, str]

    def domain_servers(self, name: str) -> tuple[str, tuple[str, ...]]:
        """(the matched suffix, its base URLs) for a domain name; ("", ()) when no entry
        matches. RFC 9224 section 4: the longest matching label sequence wins."""
        labels = name.lower().rstrip(".").split(".")
        for start in range(len(labels)):
            suffix = ".".join(labels[start:])
            if suffix in self.domains:
                return suffix, self.domains[suffix]
        return "", ()

    def ip_servers(self, address: str) -> tuple[str, tuple[str, ...]]:
        """(the matched network, its base URLs) for an address; ("", ()) when none does."""
        ip = ipaddress.ip_address(address)
        for network, urls in self.networks:
            if ip.version == network.version and ip in network:
                return str(network), urls
        return "", ()


def _services(kind: str, data: Any) -> list[tuple[list[str], list[str]]]:
    if not isinstance(data, dict) or not isinstance(data.get("services"), list):
        raise BootstrapError(f"{kind}.json has no 'services' list.")
    if not isinstance(data.get("version"), str):
        raise BootstrapError(f"{kind}.json has no 'version'.")
    services = []
    for entry in data["services"]:
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not all(isinstance(part, list) for part in entry)
            or not all(isinstance(item, str) for part in entry for item in part)
        ):
            raise BootstrapError(f"{kind}.json has a malformed service entry: {entry!r:.200}")
        keys, urls = entry
        if not urls or not all(url.startswith(("https://", "http://")) for url in urls):
            raise BootstrapError(f"{kind}.json has an entry without HTTP(S) URLs: {entry!r:.200}")
        services.append((keys, urls))
    return services


def _preferred(urls: list[str]) -> tuple[str, ...]:
    """HTTPS first (RFC 9224 section 3: prefer the secure one), each ending in '/'."""
    ordered = sorted(urls, key=lambda url: not url.startswith("https://"))
    return tuple(url if url.endswith("/") else url + "/" for url in ordered)


def bootstrap_parse(kind: str, data: Any) -> dict[str, Any]:
    """Check one file's format (raises BootstrapError); returns its parsed entries."""
    services = _services(kind, data)
    if kind == "dns":
        domains: dict[str, tuple[str, ...]] = {}
        for keys, urls in services:
            for key in keys:
                domains[key.lower().strip(".")] = _preferred(urls)
        return {"domains": domains}
    networks: list[tuple[Network, tuple[str, ...]]] = []
    for keys, urls in services:
        for key in keys:
            try:
                network = ipaddress.ip_network(key)
            except ValueError as exc:
                raise BootstrapError(f"{kind}.json has a bad prefix {key!r}.") from exc
            if network.version != (4 if kind == "ipv4" else 6):
                raise BootstrapError(f"{kind}.json holds {key}, of the other IP version.")
            networks.append((network, _preferred(urls)))
    return {"networks": networks}


def bootstrap_file(kind: str, directory: Path | None) -> Path:
    """The refreshed file when RDAP_BOOTSTRAP_DIR holds one, else the bundled copy."""
    if directory is not None and (directory / f"{kind}.json").is_file():
        return directory / f"{kind}.json"
    return BUNDLED_DIR / f"{kind}.json"


def bootstrap_load(directory: Path | None = None) -> Bootstrap:
    domains: dict[str, tuple[str, ...]] = {}
    networks: list[tuple[Network, tuple[str, ...]]] = []
    publication: dict[str, str] = {}
    for kind in KINDS:
        path = bootstrap_file(kind, directory)
        data = json.loads(path.read_text(encoding="utf-8"))
        parsed = bootstrap_parse(kind, data)
        domains.update(parsed.get("domains", {}))
        networks.extend(parsed.get("networks", []))
        publication[kind] = str(data.get("publication", ""))
    networks.sort(key=lambda item: item[0].prefixlen, reverse=True)
    return Bootstrap(domains=domains, networks=tuple(networks), publication=publication)
