from __future__ import annotations

from typing import Any, NoReturn

from django.db import models


class AppendOnlyError(RuntimeError):
    """A change or deletion of an append-only row was attempted."""


class AppendOnlyQuerySet(models.QuerySet):
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
