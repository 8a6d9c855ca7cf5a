from __future__ import annotations

from django.conf import settings
from django.db import models

from cases.models.base import AppendOnlyModel
from cases.models.tenancy import Agency

GENESIS_HASH = "0" * 64


class AuditChain(models.Model):
    """The head of one agency's audit chain. Writers lock this row, so events of an agency
    are appended strictly one after another, each hashing the previous one."""

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="audit_chain")
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"chain of {self.agency_id} at {self.last_seq}"


class AuditEvent(AppendOnlyModel):
    """An append-only, hash-chained record of a create, change, sensitive view, export or login.

    hash = HMAC-SHA256(key, prev_hash + canonical JSON of the event), the key named by key_id
    and held outside the database (cases.audit_keys); key_id "" marks an event written before
    the chain was keyed (plain SHA-256). See cases.services.audit and docs/audit.md."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="audit_events")
    seq = models.PositiveBigIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept apart from the FK so the chain still verifies after a user is deleted.
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # Which key made `hash`; the default "" is what rows written before keying get.
    key_id = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["agency", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "seq"], name="audit_unique_seq_per_agency")
        ]
        indexes = [models.Index(fields=["agency", "object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"
