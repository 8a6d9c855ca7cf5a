"""Template helper for the matches panel, so a finding page needs only an include."""

from __future__ import annotations

from typing import Any

from django import template

from cases.intake.models import Finding
from cases.kernel.tenancy import agency_for
from cases.matching.models import PartnerMatch
from cases.matching.selectors import FindingMatches, finding_matches, partner_matches_of_finding

register = template.Library()


@register.simple_tag(takes_context=True)
def finding_matches_for(context: dict[str, Any], finding: Finding) -> FindingMatches:
    """The finding's re-upload matches, for a member of the finding's agency only."""
    agency = agency_for(context["request"].user)
    if agency is None or finding.agency_id != agency.pk:
        return FindingMatches()
    return finding_matches(finding=finding)


@register.simple_tag(takes_context=True)
def finding_partner_matches_for(context: dict[str, Any], finding: Finding) -> list[PartnerMatch]:
    """The finding's matches with partners' exchange signals, for its agency's members only."""
    agency = agency_for(context["request"].user)
    if agency is None or finding.agency_id != agency.pk:
        return []
    return partner_matches_of_finding(finding=finding)
