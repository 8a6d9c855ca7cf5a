from __future__ import annotations

from typing import Any

from django.db import models


class AppendOnlyModel(models.Model):
    """Rows written once and never changed or deleted through the ORM (audit events, custody
    entries, reviews). Queryset .update()/.delete() bypass this on purpose: the audit chain's
    verifier is what catches changes made behind the app's back."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError(f"{type(self).__name__} is append-only: record a new one instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{type(self).__name__} is append-only")
