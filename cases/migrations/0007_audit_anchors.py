"""Keyed audit chain (key id per event) and database triggers that keep the append-only
tables append-only on PostgreSQL.

Existing events keep key id "" and their plain SHA-256: audit history is never rewritten
(cases.services.audit verifies them as such). The triggers refuse UPDATE, DELETE and
TRUNCATE on audit events and custody entries (detection reviews: detection 0002), and
refuse moving an audit chain head backwards. Two exceptions, both documented in
docs/audit.md: ON DELETE SET NULL may clear the reference to a deleted user, and TRUNCATE
passes when the session sets agencyguard.allow_truncate = on (the test suite's flush
between tests; a role that may set it could as well disable the triggers, which is why the
chain is keyed and anchored outside the database). SQLite: nothing to install."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION agencyguard_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    clearable text[] := coalesce(TG_ARGV, '{}');
    col text;
    cleared boolean := false;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF current_setting('agencyguard.allow_truncate', true) = 'on' THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - clearable) = (to_jsonb(OLD) - clearable) THEN
        -- The one change allowed: ON DELETE SET NULL clearing a deleted user's reference
        -- (the row keeps the person's name in its own column, which is hashed).
        FOREACH col IN ARRAY clearable LOOP
            IF (to_jsonb(NEW) -> col) IS DISTINCT FROM (to_jsonb(OLD) -> col) THEN
                IF to_jsonb(NEW) -> col <> 'null'::jsonb THEN
                    RAISE EXCEPTION 'AgencyGuard: % may only be cleared on %', col, TG_TABLE_NAME
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                cleared := true;
            END IF;
        END LOOP;
        IF cleared THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'AgencyGuard: % on % refused: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a new row instead; see docs/audit.md.';
END $$;
"""

HEAD_FORWARD_FUNCTION = """
CREATE OR REPLACE FUNCTION agencyguard_audit_head_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF current_setting('agencyguard.allow_truncate', true) = 'on' THEN
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'UPDATE' AND NEW.agency_id = OLD.agency_id AND NEW.last_seq > OLD.last_seq THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'AgencyGuard: % on % refused: an audit chain head only moves forward',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def append_only_sql(table: str, function: str, *clearable: str) -> tuple[str, str]:
    """(install, remove) SQL of the row and TRUNCATE triggers of one table."""
    args = ", ".join(f"'{column}'" for column in clearable)
    install = f"""
        CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {function}({args});
        CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION {function}();
    """
    remove = f"""
        DROP TRIGGER IF EXISTS {table}_append_only ON {table};
        DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
    """
    return install, remove


def _tables(apps: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    def table(name: str) -> str:
        return apps.get_model("cases", name)._meta.db_table

    return [
        (table("AuditEvent"), "agencyguard_append_only", ("actor_id",)),
        (table("CustodyEvent"), "agencyguard_append_only", ("actor_id",)),
        (table("AuditChain"), "agencyguard_audit_head_forward", ()),
    ]


def install(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(APPEND_ONLY_FUNCTION, params=None)
    schema_editor.execute(HEAD_FORWARD_FUNCTION, params=None)
    for table, function, clearable in _tables(apps):
        schema_editor.execute(append_only_sql(table, function, *clearable)[0])


def remove(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, function, clearable in _tables(apps):
        schema_editor.execute(append_only_sql(table, function, *clearable)[1])
    schema_editor.execute("DROP FUNCTION IF EXISTS agencyguard_audit_head_forward()")
    # detection 0002 uses agencyguard_append_only and is unapplied before this.
    schema_editor.execute("DROP FUNCTION IF EXISTS agencyguard_append_only()")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0006_removal_evidence"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.RunPython(install, remove, elidable=False),
    ]
