"""The kernel's models: the abstract base, tenancy (agencies, memberships, roles) and the
hash-chained audit trail."""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.kernel.audit.fields import CanonicalJSONField


class AppendOnlyError(RuntimeError):
    """A change or deletion of an append-only row was attempted."""


_M = TypeVar("_M", bound=models.Model)


class AppendOnlyQuerySet(models.QuerySet[_M]):
    """Bulk .update()/.delete() would rewrite history in one call: refused like save() and
    delete() on one row. On PostgreSQL triggers refuse the same in the database itself
    (cases/migrations/0007_audit_anchors.py), for SQL that does not go through the ORM."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self.model.__name__} is append-only: bulk update refused")

    def delete(self) -> NoReturn:
        raise AppendOnlyError(f"{self.model.__name__} is append-only: bulk delete refused")


class AppendOnlyModel(models.Model):
    """Rows written once and never changed or deleted (audit events, custody entries,
    reviews): refused here for single rows, in AppendOnlyQuerySet for bulk calls, and by
    database triggers on PostgreSQL. The audit chain's verifier and its anchors catch what
    a database superuser could still do behind the app's back (docs/audit.md)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError(f"{type(self).__name__} is append-only: record a new one instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError(f"{type(self).__name__} is append-only")


class Agency(models.Model):
    """A tenant: one entertainment company. Nothing crosses from one agency to another."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    fan_reports_enabled = models.BooleanField(_("accept fan reports"), default=True)
    # Admins always need two-factor login; this extends it to every member of the agency.
    require_two_factor = models.BooleanField(
        _("require two-factor login for everyone"), default=False
    )
    # Every time shown to its members, and in its notices and dossiers, is in this zone (an
    # IANA name, checked by the settings form); empty means the deployment's TIME_ZONE.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    LEGAL = "legal", _("Legal staff")
    VIEWER = "viewer", _("Viewer")


class Membership(models.Model):
    """A user's place in one agency. One membership per user: a person who works for two
    agencies holds two accounts, so a session can never mix their data."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.VIEWER)
    always_blur = models.BooleanField(_("keep all media blurred"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agency", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.agency} ({self.role})"

    @property
    def can_write(self) -> bool:
        return self.role in (Role.ADMIN, Role.LEGAL)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


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
    and held outside the database (cases.kernel.audit.keys); key_id "" marks an event written before
    the chain was keyed (plain SHA-256). See cases.kernel.audit.services and docs/audit.md."""

    # No index of its own: (agency, seq) and audit_object lead with it.
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="audit_events", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept apart from the FK so the chain still verifies after a user is deleted.
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    # Stored as the canonical JSON the hash covers (cases.kernel.audit.fields).
    data = CanonicalJSONField(default=dict, blank=True)
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


class OutboxMessage(models.Model):
    """A task to send to the broker, written in the transaction that made its work
    (the transactional outbox, cases.kernel.outbox): when the transaction commits the
    message is published at once, and when the broker was unreachable the sweep publishes
    it when it is back. Nothing is lost with a rolled-back transaction or a broker outage."""

    task = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    # Seconds the task waits after it is published (a job that is busy comes back later).
    countdown = models.PositiveIntegerField(null=True, blank=True)
    # The id of the request (or task) that queued it, bound again when it is published.
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["sent_at", "id"], name="outbox_unsent")]

    def __str__(self) -> str:
        return f"{self.task}({self.kwargs}) {'sent' if self.sent_at else 'unsent'}"


class JobClaim(models.Model):
    """Which worker process claimed a job last (cases.kernel.jobs.job_claim): the worker's
    node name and the pool process id. A worker that starts again under the same node name
    requeues the jobs it was running when it died; a claim whose process is gone on this
    node is resumed at once, while a live one is never run twice."""

    job_type = models.CharField(max_length=100)
    job_id = models.BigIntegerField()
    worker = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    claimed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job_type", "job_id"], name="job_claim_unique_job")
        ]
        indexes = [models.Index(fields=["worker"], name="job_claim_worker")]

    def __str__(self) -> str:
        return f"{self.job_type}#{self.job_id} on {self.worker} ({self.pid})"
