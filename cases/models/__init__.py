"""The domain core. Every row carries `agency`; reads go through cases.selectors."""

from cases.models.audit import AuditChain, AuditEvent
from cases.models.fan_reports import FanReport
from cases.models.findings import Finding, FindingSource, FindingStatus, ImportJob, ImportJobStatus
from cases.models.legal_case import Case, CaseDeadline, CaseStatus
from cases.models.platforms import Platform
from cases.models.roster import Artist, Group
from cases.models.tenancy import Agency, Membership, Role

__all__ = [
    "Agency",
    "Artist",
    "AuditChain",
    "AuditEvent",
    "Case",
    "CaseDeadline",
    "CaseStatus",
    "FanReport",
    "Finding",
    "FindingSource",
    "FindingStatus",
    "Group",
    "ImportJob",
    "ImportJobStatus",
    "Membership",
    "Platform",
    "Role",
]
