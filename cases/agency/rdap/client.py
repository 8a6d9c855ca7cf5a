"""RDAP lookups of abuse contacts (RFC 9082 queries, RFC 9083 answers), through the safe
fetcher only.

Two parts per host:

* **registrar**: the domain's registry RDAP server comes from the DNS bootstrap file; its
  answer names the registrar (entity with role "registrar") and usually links to the
  registrar's own RDAP record (`links[rel=related]`), which carries the abuse contact
  (ICANN's RDAP profile requires the registrar's abuse e-mail and phone). The registrar's
  abuse contact is taken from the registrar's answer when it has one, else the registry's.
* **network**: the host's address (resolved once, public addresses only) is looked up at
  the RIR from the IPv4/IPv6 bootstrap files; the abuse contact is the entity with role
  "abuse" (nested under the registrant at ARIN). An abuse entity given by handle only is
  fetched through its `self` link. The network's names are matched against the CDN table.

Nothing here raises for a network problem or a bad answer: each part comes back with a
state (found, no contact published, failed with the reason, not applicable)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cases.agency.rdap.bootstrap import Bootstrap
from cases.agency.rdap.cdn import cdn_recognise
from cases.kernel.net.connection import pinned_addresses, system_resolver
from cases.kernel.net.fetcher import Connector, Resolver, fetch
from cases.kernel.net.outcome import Deadline, Failure
from cases.kernel.net.policy import Policy, PolicyRefused, check_url, is_ip_literal

FOUND = "found"
NO_CONTACT = "no_contact"
FAILED = "failed"
NOT_APPLICABLE = "not_applicable"

RDAP_ACCEPT = ("Accept", "application/rdap+json, application/json;q=0.9")
MAX_NAMES = 3  # domain names tried per host (example.co.kr needs two)
MAX_ENTITY_DEPTH = 4


class RdapFailed(Exception):
    def __init__(self, reason: str, *, not_found: bool = False, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.not_found = not_found
        # A network failure or a server error, worth a retry; a refusal or a bad answer is not.
        self.transient = transient


@dataclass(frozen=True)
class Contact:
    name: str = ""
    email: str = ""
    phone: str = ""

    @property
    def published(self) -> bool:
        return bool(self.email or self.phone)


@dataclass
class Part:
    """One half of a lookup (registrar or network) as it came back."""

    state: str
    holder: str = ""  # the registrar's or the network's name
    handle: str = ""  # registrar IANA id / network handle
    contact: Contact = field(default_factory=Contact)
    source: str = ""  # the RDAP URL the contact (or the failure) came from
    error: str = ""  # why it failed or does not apply
    address: str = ""  # network part: the address looked up
    cdn: str = ""  # network part: the CDN key (cases.agency.rdap.cdn) or ""
    transient: bool = False  # failed for a reason a later try may not meet


@dataclass(frozen=True)
class Transport:
    """How requests go out: the policy, and (in tests) DNS and the network played."""

    policy: Policy
    resolver: Resolver | None = None
    connector: Connector | None = None


def rdap_policy(*, allowed_ports: frozenset[int], allow_loopback: bool, timeout: float) -> Policy:
    return Policy(
        allowed_ports=allowed_ports,
        allow_loopback=allow_loopback,
        connect_timeout=timeout,
        read_timeout=timeout,
        total_deadline=timeout * 2,
        max_redirects=3,
        max_body_bytes=2 * 1024 * 1024,
        max_decompressed_bytes=8 * 1024 * 1024,
        user_agent="AgencyGuard-RDAP/1.0 (abuse contact lookup for a legal team)",
        extra_headers=(RDAP_ACCEPT,),
    )


def rdap_get(url: str, transport: Transport) -> tuple[dict[str, Any], str]:
    """GET one RDAP object; (the JSON object, the final URL). Raises RdapFailed."""
    result = fetch(
        url, transport.policy, resolver=transport.resolver, connector=transport.connector
    )
    if not result.ok:
        raise RdapFailed(f"{result.final_url}: {result.message}", transient=not result.refused)
    if result.status_code == 404:
        raise RdapFailed(f"{result.final_url}: not found (404)", not_found=True)
    if result.status_code != 200:
        status = result.status_code or 0
        raise RdapFailed(
            f"{result.final_url}: HTTP {status}", transient=status == 429 or status >= 500
        )
    if result.truncated:
        raise RdapFailed(f"{result.final_url}: the answer is larger than the limit")
    try:
        data = json.loads(result.body)
    except ValueError as exc:
        raise RdapFailed(f"{result.final_url}: the answer is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise RdapFailed(f"{result.final_url}: the answer is not an RDAP object")
    return data, result.final_url


# --- reading answers ------------------------------------------------------------------


def _vcard(entity: dict[str, Any]) -> dict[str, str]:
    """fn, org, email and tel of an entity's jCard (RFC 7095), first value of each."""
    found: dict[str, str] = {}
    card = entity.get("vcardArray")
    if not (isinstance(card, list) and len(card) == 2 and isinstance(card[1], list)):
        return found
    for prop in card[1]:
        if not (isinstance(prop, list) and len(prop) >= 4 and isinstance(prop[0], str)):
            continue
        name, value = prop[0].lower(), prop[3]
        if isinstance(value, list):
            value = " ".join(str(v) for v in value if v)
        if name in ("fn", "org", "email", "tel") and name not in found and str(value).strip():
            found[name] = str(value).strip()
    for prefix, key in (("mailto:", "email"), ("tel:", "tel")):
        if found.get(key, "").lower().startswith(prefix):
            found[key] = found[key][len(prefix) :]
    return found


def _walk(obj: dict[str, Any], depth: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    """Every entity under `obj`, breadth first, with its depth."""
    level = [e for e in obj.get("entities") or [] if isinstance(e, dict)]
    while level and depth < MAX_ENTITY_DEPTH:
        nxt: list[dict[str, Any]] = []
        for entity in level:
            yield entity, depth
            nxt.extend(e for e in entity.get("entities") or [] if isinstance(e, dict))
        level, depth = nxt, depth + 1


def _roles(entity: dict[str, Any]) -> set[str]:
    return {str(r).lower() for r in entity.get("roles") or []}


def _with_role(obj: dict[str, Any], role: str) -> dict[str, Any] | None:
    return next((e for e, _d in _walk(obj) if role in _roles(e)), None)


def _link(obj: dict[str, Any], rel: str) -> str:
    for link in obj.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") != rel:
            continue
        href = str(link.get("href") or "")
        kind = str(link.get("type") or "application/rdap+json")
        if href and "json" in kind:
            return href
    return ""


def _contact(entity: dict[str, Any], transport: Transport) -> tuple[Contact, str]:
    """The entity's contact; an entity given by handle only is fetched by its self link.
    Returns (contact, the URL it came from or "")."""
    card = _vcard(entity)
    source = ""
    if not (card.get("email") or card.get("tel")):
        self_link = _link(entity, "self")
        if self_link:
            try:
                fetched, source = rdap_get(self_link, transport)
            except RdapFailed:
                fetched = {}
            card = _vcard(fetched) or card
    return Contact(card.get("fn", ""), card.get("email", ""), card.get("tel", "")), source


def _abuse(obj: dict[str, Any], transport: Transport) -> tuple[Contact, str]:
    entity = _with_role(obj, "abuse")
    if entity is None:
        return Contact(), ""
    return _contact(entity, transport)


# --- the registrar ---------------------------------------------------------------------


def _names(host: str, suffix: str) -> list[str]:
    """Names to ask the registry for, shortest first: one label below the bootstrap
    suffix (example.com), then longer (example.co.kr when co.kr is not registered)."""
    labels = host.split(".")
    depth = len(suffix.split("."))
    return [".".join(labels[-n:]) for n in range(depth + 1, len(labels) + 1)][:MAX_NAMES]


def related_url(registry: dict[str, Any]) -> str:
    return _link(registry, "related")


def _registrar_answer(
    registry: dict[str, Any], transport: Transport
) -> tuple[Part, RdapFailed | None]:
    registrar = _with_role(registry, "registrar") or {}
    card = _vcard(registrar)
    iana_id = next(
        (
            str(p.get("identifier"))
            for p in registrar.get("publicIds") or []
            if isinstance(p, dict) and "iana" in str(p.get("type", "")).lower()
        ),
        "",
    )
    part = Part(
        state=NO_CONTACT,
        holder=card.get("fn") or card.get("org") or str(registrar.get("handle") or ""),
        handle=iana_id or str(registrar.get("handle") or ""),
    )
    related = _link(registry, "related")
    note: RdapFailed | None = None
    if related:
        try:
            answer, url = rdap_get(related, transport)
        except RdapFailed as exc:
            note = exc
        else:
            contact, via = _abuse(answer, transport)
            if contact.published:
                part.state, part.contact, part.source = FOUND, contact, via or url
                if not part.holder:
                    inner = _with_role(answer, "registrar") or {}
                    part.holder = _vcard(inner).get("fn", "")
    return part, note


def domain_lookup(host: str, bootstrap: Bootstrap, transport: Transport) -> Part:
    if is_ip_literal(host):
        return Part(state=NOT_APPLICABLE, error="The host is an IP address: no domain.")
    suffix, servers = bootstrap.domain_servers(host)
    if not servers:
        tld = host.rsplit(".", 1)[-1]
        return Part(
            state=FAILED,
            error=f"No RDAP server for .{tld} in the bootstrap file (refresh it, or the "
            "registry publishes none).",
        )
    last_error = ""
    for name in _names(host, suffix):
        url = servers[0] + "domain/" + quote(name)
        try:
            registry, final = rdap_get(url, transport)
        except RdapFailed as exc:
            last_error = exc.reason
            if exc.not_found:
                continue
            return Part(state=FAILED, source=url, error=exc.reason, transient=exc.transient)
        part, note = _registrar_answer(registry, transport)
        if part.state != FOUND:
            contact, via = _abuse(registry, transport)
            if contact.published:
                part.state, part.contact, part.source = FOUND, contact, via or final
            elif note is not None:
                part.state, part.source, part.error = FAILED, related_url(registry), note.reason
                part.transient = note.transient
            else:
                part.source = final
        return part
    return Part(state=FAILED, error=last_error or "The registry does not know the domain.")


# --- the network -----------------------------------------------------------------------


def host_address(host: str, transport: Transport) -> str:
    """The host's first address, resolved once; raises RdapFailed when it cannot be
    resolved and PolicyRefused when an answer is not a public address."""
    if is_ip_literal(host):
        return host
    policy = Policy(allowed_ports=frozenset({80}), allow_loopback=False)
    target = check_url(f"http://{host}/", policy)
    try:
        addresses = pinned_addresses(
            target, policy, transport.resolver or system_resolver, Deadline(10.0)
        )
    except Failure as exc:
        raise RdapFailed(exc.message) from exc
    return addresses[0]


def network_lookup(host: str, bootstrap: Bootstrap, transport: Transport) -> Part:
    try:
        address = host_address(host, transport)
    except PolicyRefused as exc:
        return Part(state=NOT_APPLICABLE, error=exc.reason)
    except RdapFailed as exc:
        return Part(state=FAILED, error=exc.reason, transient=True)
    _network, servers = bootstrap.ip_servers(address)
    if not servers:
        return Part(
            state=FAILED,
            address=address,
            error=f"No RDAP server for {address} in the bootstrap file (refresh it).",
        )
    url = servers[0] + "ip/" + address
    try:
        answer, final = rdap_get(url, transport)
    except RdapFailed as exc:
        return Part(
            state=FAILED, address=address, source=url, error=exc.reason, transient=exc.transient
        )
    registrant = _with_role(answer, "registrant") or {}
    org = _vcard(registrant).get("fn", "")
    name, handle = str(answer.get("name") or ""), str(answer.get("handle") or "")
    cdn = cdn_recognise(address=address, names=[name, handle, org])
    contact, via = _abuse(answer, transport)
    return Part(
        state=FOUND if contact.published else NO_CONTACT,
        holder=" / ".join(dict.fromkeys(x for x in (org, name) if x)),
        handle=handle,
        contact=contact,
        source=via or final,
        address=address,
        cdn=cdn.key if cdn else "",
    )
