"""The canonicalisation rules of one agency: its platforms' share parameters and the
deployment's loopback switch. Built once per request or import, never per URL."""

from __future__ import annotations

from django.conf import settings

from cases.agency.services.platforms import PlatformIndex
from cases.intake.canonical import UrlRules
from cases.kernel.models import Agency


def url_rules(platforms: PlatformIndex) -> UrlRules:
    """The rules from an agency's platform index (one query, already made)."""
    return UrlRules(
        platform_params=platforms.share_params,
        # The capture policy's test switch: a test suite that captures a local site may
        # record it; everywhere else loopback is refused at record time as at capture.
        allow_loopback=settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS,
    )


def platform_index_for(agency: Agency, platforms: PlatformIndex | None = None) -> PlatformIndex:
    """`platforms` when it was built for this agency, else a fresh index: a caller can pass
    one it already has, but never another agency's rules."""
    if platforms is not None and platforms.agency_id == agency.pk:
        return platforms
    return PlatformIndex.for_agency(agency)
