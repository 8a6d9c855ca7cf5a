"""Reads of the roster, staff and platforms, always scoped to the user's agency."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.agency.models import AbuseLookup, Artist, Group, Platform
from cases.kernel.tenancy import AnyUser, get_or_404, scoped


def artist_list_for(user: AnyUser) -> QuerySet[Artist]:
    return scoped(Artist.objects.prefetch_related("groups"), user)


def artist_get_for(user: AnyUser, pk: int | str) -> Artist:
    return get_or_404(artist_list_for(user), pk=pk)


def group_list_for(user: AnyUser) -> QuerySet[Group]:
    return scoped(Group.objects.annotate(artist_count=Count("artists")), user)


def group_get_for(user: AnyUser, pk: int | str) -> Group:
    return get_or_404(scoped(Group.objects.all(), user), pk=pk)


def platform_list_for(user: AnyUser) -> QuerySet[Platform]:
    return scoped(Platform.objects.all(), user)


def abuse_lookup_list_for(user: AnyUser) -> QuerySet[AbuseLookup]:
    return scoped(AbuseLookup.objects.all(), user)


def abuse_lookup_for_host(user: AnyUser, host: str) -> AbuseLookup | None:
    return abuse_lookup_list_for(user).filter(host=host).first()


@dataclass(frozen=True)
class AbuseRecipient:
    """An abuse address a notice may go to, with where it came from."""

    email: str
    label: str


def abuse_recipients_for(user: AnyUser, hosts: Iterable[str]) -> list[AbuseRecipient]:
    """The abuse addresses published for these hosts (registrar, network, the fronting
    CDN's), each once, for the notice form's recipient choice."""
    found: dict[str, AbuseRecipient] = {}
    lookups = abuse_lookup_list_for(user).filter(host__in=set(hosts), looked_up_at__isnull=False)
    for lookup in lookups.order_by("host"):
        # The date as the page shows it (the active zone: the agency's in a request).
        day = timezone.localdate(lookup.looked_up_at).isoformat() if lookup.looked_up_at else ""
        candidates = [
            (
                lookup.registrar_email,
                _("%(host)s: registrar abuse (%(name)s, RDAP %(date)s)"),
                lookup.registrar_name,
            ),
            (
                lookup.network_email,
                _("%(host)s: network abuse (%(name)s, RDAP %(date)s)"),
                lookup.network_name,
            ),
        ]
        cdn = lookup.cdn_entry
        if cdn is not None and cdn.abuse_email:
            candidates.append(
                (cdn.abuse_email, _("%(host)s: CDN abuse (%(name)s, published address)"), cdn.name)
            )
        for email, template, name in candidates:
            if email and "@" in email and email not in found:
                label = template % {"host": lookup.host, "name": name or "?", "date": day}
                found[email] = AbuseRecipient(email=email, label=f"{label}: {email}")
    return list(found.values())
