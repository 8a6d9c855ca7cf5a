"""Every model of the cases app, for Django's model loading and for code outside the app.
Each context owns its models (`cases/<context>/models.py`); inside the app, import them from
there. One app label, so no table ever moves when a context is reorganised."""

from cases.agency.models import AbuseLookup, AbuseLookupState, Artist, Group, Platform
from cases.evidence.models import (
    Capture,
    CaptureObservation,
    CaptureStatus,
    CustodyAction,
    CustodyEvent,
    Evidence,
    EvidenceKind,
    RemovalSignature,
    SignatureKind,
)
from cases.intake.models import (
    FanReport,
    Finding,
    FindingSource,
    FindingStatus,
    ImportJob,
    ImportJobStatus,
)
from cases.kernel.models import (
    Agency,
    AuditChain,
    AuditEvent,
    JobClaim,
    Membership,
    OutboxMessage,
    Role,
)
from cases.legal.models import Case, CaseDeadline, CaseStatus
from cases.matching.models import EvidenceMatch, FingerprintSource, PdqFingerprint, ReferenceMedia
from cases.notices.models import (
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
from cases.work.models import Comment, DigestSubscription, Notification, NotificationKind, Task

__all__ = [
    "AbuseLookup",
    "AbuseLookupState",
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
    "Comment",
    "CustodyAction",
    "CustodyEvent",
    "DigestSubscription",
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
    "JobClaim",
    "LegalBasis",
    "Membership",
    "Notice",
    "NoticeChannel",
    "NoticeLanguage",
    "NoticeStatus",
    "NoticeTemplate",
    "Notification",
    "NotificationKind",
    "OutboxMessage",
    "PdqFingerprint",
    "Platform",
    "ReferenceMedia",
    "RemovalSignature",
    "Role",
    "SignatureKind",
    "SignerProfile",
    "Task",
    "Webhook",
    "WebhookDelivery",
]
