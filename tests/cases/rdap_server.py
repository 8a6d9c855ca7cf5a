"""A local RDAP fixture server (a threaded http.server on 127.0.0.1) for the abuse-contact
lookups: a registry, a registrar and an RIR, each answering RDAP JSON for a few test
objects, plus the three IANA bootstrap files pointing at them.

DNS and the wire are played by the tests: `FakeDns` answers the test hosts' addresses and
`RecordingConnector` dials only what the fetcher checked, recording every address, so a
test can prove that no private address was ever connected to."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cases.kernel.net.connection import direct_connector

REGISTRAR_ABUSE = "abuse@registrar.example"
REGISTRY_ABUSE = "abuse@registry-level.example"
NETWORK_ABUSE = "abuse@network.example"
CLOUDFLARE_ABUSE = "abuse@cloudflare.example"

# The addresses FakeDns gives the test hosts.
ADDRESSES = {
    "www.example.com": ["93.184.216.34"],
    "example.com": ["93.184.216.34"],
    "fronted.com": ["104.16.1.1"],
    "quiet.com": ["93.184.216.35"],
    "internal.com": ["10.0.0.5"],
    "broken.com": ["93.184.216.34"],
    "redirect.com": ["93.184.216.34"],
    "evil.test": ["93.184.216.34"],
    "unknown-tld.zz": ["93.184.216.34"],
}


def _vcard(fn: str, email: str = "", tel: str = "") -> list[Any]:
    props: list[Any] = [["version", {}, "text", "4.0"], ["fn", {}, "text", fn]]
    if email:
        props.append(["email", {"type": "work"}, "text", email])
    if tel:
        props.append(["tel", {"type": ["voice"]}, "uri", f"tel:{tel}"])
    return ["vcard", props]


def _registry_domain(name: str, base: str, *, related: bool, abuse: bool) -> dict[str, Any]:
    registrar: dict[str, Any] = {
        "objectClassName": "entity",
        "handle": "9999",
        "roles": ["registrar"],
        "publicIds": [{"type": "IANA Registrar ID", "identifier": "9999"}],
        "vcardArray": _vcard("Example Registrar, Inc."),
    }
    if abuse:
        registrar["entities"] = [
            {
                "objectClassName": "entity",
                "roles": ["abuse"],
                "vcardArray": _vcard("Abuse desk", REGISTRY_ABUSE, "+1.5555550199"),
            }
        ]
    links = [
        {"rel": "self", "href": f"{base}registry/domain/{name}", "type": "application/rdap+json"}
    ]
    if related:
        links.append(
            {
                "rel": "related",
                "href": f"{base}registrar/domain/{name}",
                "type": "application/rdap+json",
            }
        )
    return {
        "objectClassName": "domain",
        "ldhName": name.upper(),
        "links": links,
        "entities": [registrar],
    }


def _registrar_domain(name: str) -> dict[str, Any]:
    return {
        "objectClassName": "domain",
        "ldhName": name,
        "entities": [
            {
                "objectClassName": "entity",
                "roles": ["registrar"],
                "vcardArray": _vcard("Example Registrar, Inc."),
                "entities": [
                    {
                        "objectClassName": "entity",
                        "roles": ["abuse"],
                        "vcardArray": _vcard("", REGISTRAR_ABUSE, "+1.5555550100"),
                    }
                ],
            }
        ],
    }


def _network(base: str, address: str) -> dict[str, Any] | None:
    if address == "93.184.216.34":
        # ARIN-style: the abuse contact nested under the registrant, by handle only; its
        # vCard is at its self link (an entity lookup).
        return {
            "objectClassName": "ip network",
            "handle": "NET-93-184-216-0-1",
            "name": "EXAMPLE-NET",
            "entities": [
                {
                    "objectClassName": "entity",
                    "roles": ["registrant"],
                    "vcardArray": _vcard("Example Hosting Ltd"),
                    "entities": [
                        {
                            "objectClassName": "entity",
                            "handle": "ABUSE1-TEST",
                            "roles": ["abuse"],
                            "links": [
                                {
                                    "rel": "self",
                                    "href": f"{base}rir/entity/ABUSE1-TEST",
                                    "type": "application/rdap+json",
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    if address == "93.184.216.35":
        return {
            "objectClassName": "ip network",
            "handle": "NET-QUIET",
            "name": "QUIET-NET",
            "entities": [{"roles": ["registrant"], "vcardArray": _vcard("Quiet Hosting")}],
        }
    if address == "104.16.1.1":
        return {
            "objectClassName": "ip network",
            "handle": "NET-104-16-0-0-1",
            "name": "CLOUDFLARENET",
            "entities": [
                {"roles": ["registrant"], "vcardArray": _vcard("Cloudflare, Inc.")},
                {"roles": ["abuse"], "vcardArray": _vcard("Abuse", CLOUDFLARE_ABUSE)},
            ],
        }
    return None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: RdapServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        base = self.server.base
        parts = self.path.strip("/").split("/")
        body: dict[str, Any] | None = None
        if parts[:2] == ["registry", "domain"]:
            name = parts[2]
            if name == "broken.com":
                return self._send(500, {"errorCode": 500})
            if name == "redirect.com":
                # On the allowed port, so only the address can be the reason to refuse.
                port = self.server.port
                return self._redirect(f"http://169.254.169.254:{port}/latest/meta-data/")
            if name in ("example.com", "internal.com"):
                body = _registry_domain(name, base, related=True, abuse=False)
            elif name == "fronted.com":
                body = _registry_domain(name, base, related=False, abuse=True)
            elif name == "quiet.com":
                body = _registry_domain(name, base, related=False, abuse=False)
        elif parts[:2] == ["registrar", "domain"]:
            body = _registrar_domain(parts[2])
        elif parts[:2] == ["rir", "ip"]:
            body = _network(base, parts[2])
        elif parts[:3] == ["rir", "entity", "ABUSE1-TEST"]:
            body = {
                "objectClassName": "entity",
                "handle": "ABUSE1-TEST",
                "vcardArray": _vcard("Example Hosting Abuse", NETWORK_ABUSE, "+44.2000000000"),
            }
        elif parts[0] == "iana" and len(parts) == 2:
            body = self.server.bootstrap.get(parts[1])
        if body is None:
            return self._send(404, {"errorCode": 404, "title": "not found"})
        return self._send(200, body)

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/rdap+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


class RdapServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[str] = []
        self.port = self.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}/"
        self.bootstrap: dict[str, Any] = {}

    def bootstrap_files(self) -> dict[str, Any]:
        """The three files, pointing at this server (and one TLD at a private address)."""

        def doc(services: list[Any]) -> dict[str, Any]:
            return {
                "description": "test",
                "publication": "2026-12-04T00:00:00Z",
                "services": services,
                "version": "1.0",
            }

        return {
            "dns.json": doc(
                [
                    [["com"], [f"{self.base}registry/"]],
                    # A bootstrap entry that points into our own network must be refused.
                    [["test"], [f"http://10.1.2.3:{self.port}/rdap/"]],
                ]
            ),
            "ipv4.json": doc([[["93.0.0.0/8", "104.0.0.0/8", "10.0.0.0/8"], [f"{self.base}rir/"]]]),
            "ipv6.json": doc([[["2a00::/12"], [f"{self.base}rir/"]]]),
        }

    def write_bootstrap(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self.bootstrap_files().items():
            (directory / name).write_text(json.dumps(data))


@contextmanager
def rdap_server() -> Iterator[RdapServer]:
    server = RdapServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class FakeDns:
    answers: dict[str, list[str]] = field(default_factory=lambda: dict(ADDRESSES))
    asked: list[str] = field(default_factory=list)

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(f"unknown host {host}")
        return self.answers[host]


@dataclass
class RecordingConnector:
    dialled: list[str] = field(default_factory=list)

    def __call__(self, ip: str, port: int, timeout: float) -> socket.socket:
        self.dialled.append(ip)
        return direct_connector(ip, port, timeout)
