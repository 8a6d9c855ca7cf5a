"""Each finding's newest notice kept on the finding by database triggers
(cases/notices/latest_sql.py): the triage queue's notice status and due columns read them.
Every path that changes the answer is exercised here, on SQLite locally and on PostgreSQL in
CI, and the result compared with a recomputation from the tables themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, models

from cases import wiring
from cases.intake.models import Finding
from cases.intake.selectors import finding_list_rows_for
from cases.notices.latest_sql import (
    LINKS,
    latest_notice_triggers_ensure,
    rebuild_sql,
    uninstall_statements,
)
from cases.notices.models import LegalBasis, Notice, NoticeStatus
from cases.notices.services.outcomes import notice_close
from cases.notices.services.sending import notice_send

T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)


def _kept(finding: Finding) -> tuple[str, datetime | None]:
    return tuple(  # type: ignore[return-value]
        Finding.objects.filter(pk=finding.pk).values_list(
            "latest_notice_status", "latest_notice_due"
        )[0]
    )


def _recomputed() -> dict[int, tuple[str, datetime | None]]:
    """Every finding's pair after a rebuild from the tables (the triggers' result must not
    change), restored afterwards by the test's transaction."""
    before = dict(_pairs())
    with connection.cursor() as cursor:
        cursor.execute(rebuild_sql(connection.vendor))
    after = dict(_pairs())
    assert after == before, "the triggers' values differ from a recomputation"
    return after


def _pairs():  # type: ignore[no-untyped-def]
    for pk, status, due in Finding.objects.values_list(
        "pk", "latest_notice_status", "latest_notice_due"
    ):
        yield pk, (status, due)


def test_a_finding_without_notices_has_none(hosted_finding) -> None:  # type: ignore[no-untyped-def]
    assert _kept(hosted_finding) == ("", None)
    _recomputed()


def test_a_draft_then_sending_then_closing_moves_the_finding_with_it(
    make_notice, hosted_finding, bob
) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice(LegalBasis.TAKE_IT_DOWN)
    assert _kept(hosted_finding) == (NoticeStatus.DRAFT, None)
    with time_machine.travel(T0, tick=False):
        notice = notice_send(notice=notice, actor=None)
    assert _kept(hosted_finding) == (NoticeStatus.SENT, T0 + timedelta(hours=48))
    notice_close(notice=notice, actor=bob, outcome=NoticeStatus.REJECTED, note="no")
    assert _kept(hosted_finding) == (NoticeStatus.REJECTED, T0 + timedelta(hours=48))
    _recomputed()


def test_the_newest_notice_wins_and_the_older_one_shows_again_when_it_goes(
    make_notice, hosted_finding
) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        older = notice_send(notice=make_notice(LegalBasis.TAKE_IT_DOWN), actor=None)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        newer = notice_send(notice=make_notice(LegalBasis.TAKE_IT_DOWN), actor=None)
    newer_due = T0 + timedelta(days=1, hours=48)
    assert _kept(hosted_finding) == (NoticeStatus.SENT, newer_due)
    # A change to the older notice does not move the finding; the newer one's does.
    Notice.objects.filter(pk=older.pk).update(status=NoticeStatus.ACKNOWLEDGED)
    assert _kept(hosted_finding) == (NoticeStatus.SENT, newer_due)
    Notice.objects.filter(pk=newer.pk).update(due_at=newer_due + timedelta(hours=1))
    assert _kept(hosted_finding) == (NoticeStatus.SENT, newer_due + timedelta(hours=1))
    _recomputed()
    # Unlinked from the newer notice: the older one shows.
    newer.findings.remove(hosted_finding)
    assert _kept(hosted_finding) == (NoticeStatus.ACKNOWLEDGED, T0 + timedelta(hours=48))
    newer.findings.add(hosted_finding)
    assert _kept(hosted_finding)[0] == NoticeStatus.SENT
    # A newest draft shows, and when it is deleted (only drafts are) the sent one again.
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        draft = make_notice(LegalBasis.TAKE_IT_DOWN)
    assert _kept(hosted_finding) == (NoticeStatus.DRAFT, None)
    draft.delete()
    assert _kept(hosted_finding)[0] == NoticeStatus.SENT
    newer.findings.clear()
    older.findings.clear()
    assert _kept(hosted_finding) == ("", None)
    _recomputed()


def test_a_finding_loaded_before_the_notice_does_not_write_back_the_old_values(
    make_notice, hosted_finding
) -> None:  # type: ignore[no-untyped-def]
    stale = Finding.objects.get(pk=hosted_finding.pk)
    make_notice(LegalBasis.TAKE_IT_DOWN)
    stale.notes = "edited in another tab"
    stale.save()
    assert _kept(hosted_finding) == (NoticeStatus.DRAFT, None)
    assert Finding.objects.get(pk=hosted_finding.pk).notes == "edited in another tab"
    # A save naming its fields is left as it is.
    stale.notes = "again"
    stale.save(update_fields=["notes"])
    assert _kept(hosted_finding) == (NoticeStatus.DRAFT, None)


def test_the_triage_rows_read_the_kept_columns(make_notice, hosted_finding, bob) -> None:  # type: ignore[no-untyped-def]
    make_notice(LegalBasis.TAKE_IT_DOWN)
    [row] = finding_list_rows_for(bob, triage=True)
    assert (row["latest_notice_status"], row["latest_notice_due"]) == (NoticeStatus.DRAFT, None)
    sql = str(finding_list_rows_for(bob, triage=True).query)
    assert "cases_notice" not in sql  # the page query reads no notice table


def test_dropped_triggers_are_put_back_after_migrate_on_sqlite(make_notice, hosted_finding) -> None:  # type: ignore[no-untyped-def]
    """SQLite drops a table's triggers when a migration rebuilds it: ensure() after migrate
    puts them back (on PostgreSQL they stay and ensure() does nothing)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for statement in uninstall_statements("sqlite"):
                cursor.execute(statement)
        make_notice(LegalBasis.TAKE_IT_DOWN)
        assert _kept(hosted_finding) == ("", None)  # the contrary case: nothing kept it
        Notice.objects.all().delete()
    latest_notice_triggers_ensure()
    make_notice(LegalBasis.TAKE_IT_DOWN)
    assert _kept(hosted_finding) == (NoticeStatus.DRAFT, None)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {LINKS}")
        assert cursor.fetchone()[0] == 1


def _dismissed_reason(max_length: int):  # type: ignore[no-untyped-def]
    field = models.CharField(max_length=max_length, blank=True)
    field.set_attributes_from_name("dismissed_reason")
    field.model = Finding
    return field


@pytest.mark.django_db(transaction=True)
def test_a_migration_that_rebuilds_the_findings_table_keeps_the_newest_notice(
    make_notice, hosted_finding
) -> None:  # type: ignore[no-untyped-def]
    """SQLite rebuilds a table to alter it, and renaming the rebuilt findings table failed
    while the notice triggers named it ("no such table: main.cases_finding", which leaves the
    test database broken, so that contrary case is not run here): they are dropped before
    `migrate` and put back, with the values recomputed, after it (cases/wiring.py).
    PostgreSQL alters in place."""
    before, after = Finding._meta.get_field("dismissed_reason"), _dismissed_reason(600)
    try:
        wiring._drop_sqlite_triggers(None, using="default")
        with connection.schema_editor() as editor:
            editor.alter_field(Finding, before, after)
        make_notice(LegalBasis.TAKE_IT_DOWN)  # between the two: no trigger on SQLite
        wiring._counter_triggers(None, using="default")
        assert _kept(hosted_finding) == (NoticeStatus.DRAFT, None)
        Notice.objects.update(status=NoticeStatus.DRAFT, due_at=None)  # the triggers work
        _recomputed()
    finally:
        wiring._drop_sqlite_triggers(None, using="default")
        with connection.schema_editor() as editor:
            editor.alter_field(Finding, after, _dismissed_reason(500))
        wiring._counter_triggers(None, using="default")


def test_a_finding_with_deferred_fields_saves_only_what_it_loaded(
    hosted_finding, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    """As Django does for deferred instances: a deferred field is neither read back (a query
    per field) nor written (which would undo a concurrent change to it)."""
    partial = Finding.objects.defer("notes", "url").get(pk=hosted_finding.pk)
    Finding.objects.filter(pk=hosted_finding.pk).update(notes="written meanwhile")
    partial.dismissed_reason = ""
    with django_assert_num_queries(1):  # the UPDATE only
        partial.save()
    assert Finding.objects.get(pk=hosted_finding.pk).notes == "written meanwhile"


def test_a_deferred_foreign_key_is_neither_read_back_nor_written(
    hosted_finding, bob, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    partial = Finding.objects.defer("assignee").get(pk=hosted_finding.pk)
    Finding.objects.filter(pk=hosted_finding.pk).update(assignee=bob)
    partial.dismissed_reason = ""
    with django_assert_num_queries(1):  # the UPDATE only
        partial.save()
    assert Finding.objects.get(pk=hosted_finding.pk).assignee_id == bob.pk
