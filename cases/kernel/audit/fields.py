"""An audit event's data, stored as the exact JSON text its hash covers.

The hash covers the canonical JSON of the data (hashing.canonical_json: sorted keys, no
spaces, non-ASCII as UTF-8). Stored as that text, the verifier can hash the stored text as
it is read, instead of decoding and re-encoding every event's data (two thirds of the
per-event work). PostgreSQL's jsonb keeps no text (it reorders keys and adds spaces), so on
PostgreSQL the column is `json`, which keeps the text as written; SQLite stores text anyway.

Nothing trusts the stored text: the verifier accepts an event only when the hash of what it
read matches, and recomputes the canonical form from the decoded value otherwise (rows
written before this field, or edited behind the app)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from cases.kernel.audit.hashing import canonical_json


class _AsJsonb(models.Func):
    """The column as jsonb under a key lookup (PostgreSQL has no operators on json), the
    column itself elsewhere."""

    template = "%(expressions)s"
    output_field = models.JSONField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s)::jsonb", **extra)


class CanonicalJSONField(models.JSONField):
    """JSONField whose stored text is canonical_json(value), in a `json` column on
    PostgreSQL. Key lookups (data__key=...) compare as jsonb there; a lookup on the whole
    value other than icontains is not used on audit data."""

    def get_transform(self, name: str) -> Any:
        transform = super().get_transform(name)
        if transform is None:
            return None

        def on_jsonb(lhs: Any, *args: Any, **kwargs: Any) -> Any:
            return transform(_AsJsonb(lhs), *args, **kwargs)

        return on_jsonb

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return super().get_db_prep_value(value, connection, prepared=True)
        # A plain string parameter: PostgreSQL stores it in the json column as it is sent
        # (Django's Jsonb adapter would cast it through jsonb and lose the form).
        return canonical_json(value)

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        # psycopg2 decodes `json` columns itself (Django only turns that off for jsonb).
        if value is not None and not isinstance(value, str):
            return value
        return super().from_db_value(value, expression, connection)
