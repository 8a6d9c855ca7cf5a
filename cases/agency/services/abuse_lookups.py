"""Abuse contacts of a host: ask for a lookup (web, any member who can write), run it (a
worker), read its freshness. The lookups themselves are cases.agency.rdap.client."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cases.agency.models import AbuseLookup, AbuseLookupState
from cases.agency.rdap.bootstrap import bootstrap_load
from cases.agency.rdap.client import Part, Transport, domain_lookup, network_lookup, rdap_policy
from cases.kernel.actor import Actor
from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency
from cases.kernel.outbox import outbox_enqueue


class AbuseLookupRetry(Exception):
    """A part failed for a reason a later try may not meet (network, server error)."""


def abuse_lookup_transport() -> Transport:
    return Transport(
        policy=rdap_policy(
            allowed_ports=frozenset(settings.RDAP_ALLOWED_PORTS),
            allow_loopback=settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS,
            timeout=float(settings.RDAP_TIMEOUT_S),
        )
    )


def abuse_lookup_is_fresh(lookup: AbuseLookup, now: datetime | None = None) -> bool:
    """Looked up within RDAP_LOOKUP_MAX_AGE."""
    if lookup.looked_up_at is None:
        return False
    return (now or timezone.now()) - lookup.looked_up_at < settings.RDAP_LOOKUP_MAX_AGE


def abuse_lookup_request(
    *, agency: Agency, host: str, actor: Actor, force: bool = False
) -> tuple[AbuseLookup, bool]:
    """Queue a lookup of `host` unless a fresh one is cached (or `force`). Returns the row
    and whether a lookup was queued."""
    with transaction.atomic():
        lookup, _created = AbuseLookup.objects.select_for_update().get_or_create(
            agency=agency, host=host
        )
        if abuse_lookup_is_fresh(lookup) and not force:
            return lookup, False
        lookup.requested_at = timezone.now()
        lookup.save(update_fields=["requested_at"])
        audit_record(
            agency=agency,
            actor=actor,
            action="abuse_lookup.requested",
            obj=lookup,
            data={"host": host, "force": force},
        )
        # Published when this transaction commits (cases.kernel.outbox).
        outbox_enqueue("cases.agency.tasks.abuse_lookup_task", lookup_id=lookup.pk)
    return lookup, True


def _store(lookup: AbuseLookup, prefix: str, part: Part) -> None:
    setattr(lookup, f"{prefix}_state", part.state)
    setattr(lookup, f"{prefix}_name", part.holder[:255])
    setattr(lookup, f"{prefix}_handle", part.handle[:100])
    setattr(lookup, f"{prefix}_email", part.contact.email[:254])
    setattr(lookup, f"{prefix}_phone", part.contact.phone[:64])
    setattr(lookup, f"{prefix}_source", part.source[:500])
    setattr(lookup, f"{prefix}_error", part.error)


def abuse_lookup_run(
    *, lookup_id: int, final: bool = True, transport: Transport | None = None
) -> AbuseLookup | None:
    """Look the host up (RDAP, outside any transaction) and store what came back with the
    date. Idempotent: a lookup already done since it was requested is not repeated. With
    `final` False, a transient failure raises AbuseLookupRetry and stores nothing."""
    lookup = AbuseLookup.objects.filter(pk=lookup_id).select_related("agency").first()
    if lookup is None:
        return None
    if lookup.looked_up_at is not None and (
        lookup.requested_at is None or lookup.looked_up_at >= lookup.requested_at
    ):
        return lookup
    transport = transport or abuse_lookup_transport()
    bootstrap = bootstrap_load(settings.RDAP_BOOTSTRAP_DIR)
    registrar = domain_lookup(lookup.host, bootstrap, transport)
    network = network_lookup(lookup.host, bootstrap, transport)
    if not final and (registrar.transient or network.transient):
        reasons = "; ".join(p.error for p in (registrar, network) if p.transient)
        raise AbuseLookupRetry(reasons)
    with transaction.atomic():
        lookup = AbuseLookup.objects.select_for_update().get(pk=lookup_id)
        _store(lookup, "registrar", registrar)
        _store(lookup, "network", network)
        lookup.network_address = network.address
        lookup.cdn = network.cdn
        lookup.looked_up_at = timezone.now()
        lookup.save()
        audit_record(
            agency=lookup.agency,
            actor=None,
            action="abuse_lookup.done",
            obj=lookup,
            data={
                "host": lookup.host,
                "registrar": {"state": registrar.state, "email": registrar.contact.email},
                "network": {
                    "state": network.state,
                    "address": network.address,
                    "email": network.contact.email,
                    "cdn": network.cdn,
                },
                "sources": [s for s in (registrar.source, network.source) if s],
            },
        )
    return lookup


__all__ = [
    "AbuseLookupRetry",
    "AbuseLookupState",
    "abuse_lookup_is_fresh",
    "abuse_lookup_request",
    "abuse_lookup_run",
    "abuse_lookup_transport",
]
