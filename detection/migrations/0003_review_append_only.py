"""Detection reviews are append-only in the database too (PostgreSQL): the trigger function
comes from cases 0007; a deleted reviewer's reference may still be cleared (SET NULL)."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def _table(apps: Any) -> str:
    return apps.get_model("detection", "DetectionReview")._meta.db_table


def install(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    table = _table(apps)
    schema_editor.execute(
        f"""
        CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION agencyguard_append_only('reviewer_id');
        CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION agencyguard_append_only();
        """
    )


def remove(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    table = _table(apps)
    schema_editor.execute(
        f"""
        DROP TRIGGER IF EXISTS {table}_append_only ON {table};
        DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
        """
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0007_audit_anchors"),
        ("detection", "0002_detector_gates"),
    ]

    operations = [migrations.RunPython(install, remove, elidable=False)]
