"""The domain core. Every row carries `agency`; reads go through cases.selectors."""

from cases.models.audit import AuditChain, AuditEvent
from cases.models.evidence import (
    Capture,
    CaptureObservation,
    CaptureStatus,
    CustodyAction,
    CustodyEvent,
    Evidence,
    EvidenceKind,
)
from cases.models.fan_reports import FanReport
from cases.models.findings import Finding, FindingSource, FindingStatus, ImportJob, ImportJobStatus
from cases.models.legal_case import Case, CaseDeadline, CaseStatus
from cases.models.notices import (
    LegalBasis,
    Notice,
    NoticeChannel,
    NoticeLanguage,
    NoticeStatus,
    NoticeTemplate,
    SignerProfile,
    Webhook,
    WebhookDelivery,
)
from cases.models.platforms import Platform
from cases.models.reference import EvidenceMatch, FingerprintSource, PdqFingerprint, ReferenceMedia
from cases.models.removal import RemovalSignature, SignatureKind
from cases.models.roster import Artist, Group
from cases.models.tenancy import Agency, Membership, Role

__all__ = [
    "Agency",
    "Artist",
    "AuditChain",
    "AuditEvent",
    "Capture",
    "CaptureObservation",
    "CaptureStatus",
    "Case",
    "CaseDeadline",
    "CaseStatus",
    "CustodyAction",
    "CustodyEvent",
    "Evidence",
    "EvidenceKind",
    "EvidenceMatch",
    "FanReport",
    "Finding",
    "FindingSource",
    "FindingStatus",
    "FingerprintSource",
    "Group",
    "ImportJob",
    "ImportJobStatus",
    "LegalBasis",
    "Membership",
    "Notice",
    "NoticeChannel",
    "NoticeLanguage",
    "NoticeStatus",
    "NoticeTemplate",
    "PdqFingerprint",
    "Platform",
    "ReferenceMedia",
    "RemovalSignature",
    "Role",
    "SignatureKind",
    "SignerProfile",
    "Webhook",
    "WebhookDelivery",
]
