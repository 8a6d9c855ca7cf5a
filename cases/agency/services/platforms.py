from __future__ import annotations

from django.db import transaction

from cases.agency.models import Platform
from cases.agency.seeds import PLATFORMS, SHARE_PARAMS
from cases.kernel.models import Agency


class PlatformIndex:
    """Host → platform by longest matching domain suffix. Built once per bulk operation."""

    def __init__(self, platforms: list[Platform], *, agency_id: int | None = None) -> None:
        self.agency_id = agency_id
        # A platform's share parameters apply on its own domains, not on its CDN hosts
        # (media URLs there carry signed query strings that must stay as they are).
        self.share_params: dict[str, frozenset[str]] = {
            domain.lower().strip("."): frozenset(p.lower() for p in platform.share_params or [])
            for platform in platforms
            for domain in platform.domains
        }
        self._by_domain = {
            domain.lower().strip("."): platform
            for platform in platforms
            for domain in platform.domains
        }
        # CDN hosts map to their customer platform, unless a platform owns the host itself.
        for platform in platforms:
            for domain in platform.cdn_domains or []:
                self._by_domain.setdefault(domain.lower().strip("."), platform)

    @classmethod
    def for_agency(cls, agency: Agency) -> PlatformIndex:
        return cls(list(Platform.objects.filter(agency=agency)), agency_id=agency.pk)

    def lookup(self, host: str) -> Platform | None:
        labels = host.lower().split(".")
        for start in range(len(labels) - 1):
            platform = self._by_domain.get(".".join(labels[start:]))
            if platform is not None:
                return platform
        return None


def platforms_seed(*, agency: Agency) -> int:
    """Give an agency its starting platform table (idempotent)."""
    with transaction.atomic():
        existing = set(Platform.objects.filter(agency=agency).values_list("name", flat=True))
        new = [
            Platform(
                agency=agency,
                name=name,
                domains=domains,
                abuse_email=email,
                web_form_url=form,
                channel=channel,
                share_params=list(SHARE_PARAMS.get(name, ())),
            )
            for name, domains, email, form, channel in PLATFORMS
            if name not in existing
        ]
        Platform.objects.bulk_create(new)
    return len(new)
