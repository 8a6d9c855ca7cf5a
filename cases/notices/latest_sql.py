"""Each finding's newest notice (its status and due time) kept on the finding itself
(Finding.latest_notice_status, Finding.latest_notice_due) by database triggers, so that the
triage queue shows them without its page query touching the notice tables.

"Newest" is the notice naming the finding with the latest created_at (then the highest id);
a finding named by no notice has "" and NULL. The triggers run in the transaction of every
write that can change the answer, whatever wrote it (the ORM, QuerySet.update, raw SQL,
cascades): a finding linked to or unlinked from a notice (the link table), and a notice whose
status, due time or creation time changes. Deleting a notice deletes its link rows first
(Django's cascade), which recomputes its findings.

The trigger mechanics (PostgreSQL statement-level, installed by migration 0026; SQLite
row-level, only outside `migrate`) are cases.kernel.kept_sql's.

Finding.save() never writes these two columns on an update (cases.intake.models.Finding), so
a finding loaded before a notice changed cannot put back the old values."""

from __future__ import annotations

from cases.kernel.kept_sql import KeptColumns

FINDINGS = "cases_finding"
LINKS = "cases_notice_findings"
NOTICES = "cases_notice"


def _newest(column: str, finding: str) -> str:
    return (
        f"(SELECT n.{column} FROM {LINKS} l JOIN {NOTICES} n ON n.id = l.notice_id "
        f"WHERE l.finding_id = {finding} ORDER BY n.created_at DESC, n.id DESC LIMIT 1)"
    )


def _set_newest(where: str) -> str:
    """UPDATE the findings `where` selects to their newest notice's status and due time,
    only where they differ (no write, no finding trigger, for an unchanged finding)."""
    status, due = _newest("status", f"{FINDINGS}.id"), _newest("due_at", f"{FINDINGS}.id")
    return (
        f"UPDATE {FINDINGS} SET latest_notice_status = COALESCE({status}, ''), "
        f"latest_notice_due = {due} WHERE ({where}) AND (latest_notice_status IS DISTINCT FROM "
        f"COALESCE({status}, '') OR latest_notice_due IS DISTINCT FROM {due})"
    )


def _notice_changed(new: str, old: str) -> str:
    return " OR ".join(
        f"{new}.{column} IS DISTINCT FROM {old}.{column}"
        for column in ("status", "due_at", "created_at")
    )


_PG_FUNCTIONS = {
    "latestnotice_link_ins": _set_newest("id IN (SELECT finding_id FROM new_rows)"),
    "latestnotice_link_del": _set_newest("id IN (SELECT finding_id FROM old_rows)"),
    "latestnotice_link_upd": _set_newest(
        "id IN (SELECT finding_id FROM old_rows UNION SELECT finding_id FROM new_rows)"
    ),
    "latestnotice_notice_upd": _set_newest(
        f"id IN (SELECT l.finding_id FROM new_rows n JOIN old_rows o ON o.id = n.id "
        f"JOIN {LINKS} l ON l.notice_id = n.id WHERE {_notice_changed('n', 'o')})"
    ),
}

# (trigger and function name, table, event, transition tables)
_PG_TRIGGERS = [
    ("latestnotice_link_ins", LINKS, "INSERT", "NEW TABLE AS new_rows"),
    ("latestnotice_link_del", LINKS, "DELETE", "OLD TABLE AS old_rows"),
    ("latestnotice_link_upd", LINKS, "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ("latestnotice_notice_upd", NOTICES, "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
]

_SQLITE_TRIGGERS = {
    "latestnotice_link_ins": (
        f"AFTER INSERT ON {LINKS} BEGIN {_set_newest('id = NEW.finding_id')}; END"
    ),
    "latestnotice_link_del": (
        f"AFTER DELETE ON {LINKS} BEGIN {_set_newest('id = OLD.finding_id')}; END"
    ),
    "latestnotice_link_upd": (
        f"AFTER UPDATE ON {LINKS} BEGIN "
        f"{_set_newest('id = OLD.finding_id OR id = NEW.finding_id')}; END"
    ),
    "latestnotice_notice_upd": (
        f"AFTER UPDATE OF status, due_at, created_at ON {NOTICES} "
        f"WHEN {_notice_changed('NEW', 'OLD')} BEGIN "
        f"{_set_newest(f'id IN (SELECT finding_id FROM {LINKS} WHERE notice_id = NEW.id)')}; END"
    ),
}


def rebuild_sql(vendor: str, *, only_linked: bool = False) -> str:
    """Every finding set to its newest notice from the tables themselves; `only_linked`:
    only the findings some notice names (the migration's backfill, where every finding
    starts with "" and NULL)."""
    statement = _set_newest(f"id IN (SELECT finding_id FROM {LINKS})" if only_linked else "true")
    return (
        statement if vendor == "postgresql" else statement.replace(" IS DISTINCT FROM ", " IS NOT ")
    )


LATEST_NOTICE = KeptColumns(
    label="newest notice of findings",
    table=FINDINGS,
    marker="latest_notice_status",
    source=LINKS,
    pg_functions=_PG_FUNCTIONS,
    pg_triggers=_PG_TRIGGERS,
    # SQLite's `IS NOT` is PostgreSQL's IS DISTINCT FROM.
    sqlite_triggers={
        name: body.replace(" IS DISTINCT FROM ", " IS NOT ")
        for name, body in _SQLITE_TRIGGERS.items()
    },
    rebuild=rebuild_sql,
)
# Migration 0026 and the tests name these.
install_statements = LATEST_NOTICE.install_statements
uninstall_statements = LATEST_NOTICE.uninstall_statements
install = LATEST_NOTICE.install
latest_notice_triggers_drop = LATEST_NOTICE.drop_before_migrate
latest_notice_triggers_ensure = LATEST_NOTICE.ensure_after_migrate
