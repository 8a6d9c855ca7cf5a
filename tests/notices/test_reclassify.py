"""Issue 9 follow-up: web-form notices the old code marked "sent" when it only made their text
final, and that got no answer since, go back to "ready, awaiting submission" through the
audit trail (one event each, on the keyed chain), never silently in a migration."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.migrations.recorder import MigrationRecorder

from cases.kernel.audit.services import audit_chain_verify, audit_record
from cases.kernel.models import AuditEvent
from cases.notices.models import LegalBasis, Notice, NoticeStatus
from cases.notices.services.reclassify import RECLASSIFIED, notices_reclassify_unsubmitted
from cases.notices.services.sending import notice_record_submission, notice_send

pytestmark = pytest.mark.django_db

THEN = datetime(2026, 3, 1, tzinfo=UTC)
# What the old code stored when "sending" a web-form notice: sent, with a deadline.
OLD_RULE = {
    "status": "sent",
    "sent_at": THEN,
    "due_at": THEN,
    "finalised_at": THEN,  # migration 0009 backfills it from sent_at
    "reminder_sent_at": THEN,
    "escalated_at": THEN,
    "rendered_sha256": "0" * 64,
}


def _old_style(make_notice, channel: str = "web_form", **fields) -> Notice:  # type: ignore[no-untyped-def]
    notice = make_notice(LegalBasis.KCSC, channel=channel)
    # update(): the row as the old code left it, without going through today's services.
    Notice.objects.filter(pk=notice.pk).update(**{**OLD_RULE, **fields})
    return Notice.objects.get(pk=notice.pk)


def _events(notice: Notice) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action=RECLASSIFIED, object_type="notice", object_id=str(notice.pk)
        )
    )


def test_unanswered_web_form_notice_goes_back_to_awaiting_submission(
    make_notice, host_platform, agency
) -> None:  # type: ignore[no-untyped-def]
    notice = _old_style(make_notice)

    assert notices_reclassify_unsubmitted() == 1

    notice.refresh_from_db()
    assert notice.status == NoticeStatus.AWAITING_SUBMISSION
    assert (notice.sent_at, notice.due_at) == (None, None)
    assert (notice.reminder_sent_at, notice.escalated_at) == (None, None)
    assert notice.finalised_at == THEN and notice.rendered_sha256 == "0" * 64
    [event] = _events(notice)
    assert event.actor is None and event.actor_label == "system"
    assert event.data["old_status"] == "sent"
    assert event.data["old_sent_at"] == THEN.isoformat()
    assert event.data["old_due_at"] == THEN.isoformat()
    assert "submission" in event.data["reason"]
    report = audit_chain_verify(agency=agency)
    assert report.ok, report.reason
    assert report.head_seq == event.seq


@pytest.mark.parametrize(
    "answer",
    [
        {"platform_reference": "WF-1"},
        {"acknowledged_at": THEN},
        {"closed_at": THEN},
        {"status": "acknowledged", "acknowledged_at": THEN},
    ],
)
def test_answered_web_form_notices_stay_sent(make_notice, host_platform, answer) -> None:  # type: ignore[no-untyped-def]
    notice = _old_style(make_notice, **answer)

    assert notices_reclassify_unsubmitted() == 0

    notice.refresh_from_db()
    assert notice.status == answer.get("status", NoticeStatus.SENT)
    assert notice.sent_at == THEN and notice.due_at == THEN
    assert _events(notice) == []


def test_email_notice_stays_sent(make_notice, host_platform) -> None:  # type: ignore[no-untyped-def]
    notice = _old_style(make_notice, channel="email")

    assert notices_reclassify_unsubmitted() == 0

    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and notice.sent_at == THEN
    assert _events(notice) == []


def test_a_recorded_submission_is_never_undone(make_notice, host_platform, bob) -> None:  # type: ignore[no-untyped-def]
    notice = notice_send(notice=make_notice(LegalBasis.KCSC, channel="web_form"), actor=bob)
    notice = notice_record_submission(notice=notice, actor=bob, platform_reference="WF-9")
    # Even if its reference were lost, the notice.submitted event proves the submission.
    Notice.objects.filter(pk=notice.pk).update(platform_reference="")

    assert notices_reclassify_unsubmitted() == 0

    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and notice.sent_at is not None


def test_running_twice_changes_nothing_the_second_time(make_notice, host_platform, agency) -> None:  # type: ignore[no-untyped-def]
    notice = _old_style(make_notice)
    assert notices_reclassify_unsubmitted() == 1
    events = AuditEvent.objects.filter(agency=agency).count()
    notice.refresh_from_db()
    before = Notice.objects.filter(pk=notice.pk).values().get()

    assert notices_reclassify_unsubmitted() == 0

    assert AuditEvent.objects.filter(agency=agency).count() == events
    assert Notice.objects.filter(pk=notice.pk).values().get() == before
    assert len(_events(notice)) == 1


def test_each_agency_gets_its_own_events(make_notice, host_platform, agency, other_agency) -> None:  # type: ignore[no-untyped-def]
    ours = _old_style(make_notice)
    # Another agency's chain must not receive our event (and vice versa).
    with transaction.atomic():
        audit_record(agency=other_agency, actor=None, action="agency.created")

    assert notices_reclassify_unsubmitted() == 1

    assert _events(ours)[0].agency_id == agency.pk
    assert not AuditEvent.objects.filter(agency=other_agency, action=RECLASSIFIED).exists()
    assert audit_chain_verify(agency=agency).ok and audit_chain_verify(agency=other_agency).ok


def test_the_command_prints_the_count(make_notice, host_platform) -> None:  # type: ignore[no-untyped-def]
    _old_style(make_notice)
    out = StringIO()

    call_command("notices_reclassify", stdout=out)
    assert "1 web-form notice" in out.getvalue()

    out = StringIO()
    call_command("notices_reclassify", stdout=out)
    assert "0 web-form notices" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrate_reclassifies_after_the_migrations(make_notice, host_platform) -> None:  # type: ignore[no-untyped-def]
    notice = _old_style(make_notice)

    call_command("migrate", verbosity=0)

    notice.refresh_from_db()
    assert notice.status == NoticeStatus.AWAITING_SUBMISSION
    assert len(_events(notice)) == 1


@pytest.mark.django_db(transaction=True)
def test_nothing_runs_while_migrations_are_pending(make_notice, host_platform) -> None:  # type: ignore[no-untyped-def]
    """post_migrate also follows a partial or backwards migrate; today's models may not match
    the tables then, so the step waits for the database to be fully migrated."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    notice = _old_style(make_notice)
    recorder = MigrationRecorder(connection)
    last = max(name for app, name in recorder.applied_migrations() if app == "cases")
    recorder.record_unapplied("cases", last)
    try:
        post_migrate.send(
            sender=apps.get_app_config("cases"),
            app_config=apps.get_app_config("cases"),
            verbosity=0,
            interactive=False,
            using=DEFAULT_DB_ALIAS,
            apps=apps,
            plan=[],
        )
    finally:
        recorder.record_applied("cases", last)

    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and _events(notice) == []


def test_the_event_has_a_label_in_both_languages() -> None:
    from django.utils import translation

    from cases.templatetags.cases_extras import action_label

    with translation.override("en"):
        assert action_label(RECLASSIFIED) == (
            "Notice put back to awaiting submission (no submission recorded)"
        )
    with translation.override("ko"):
        assert action_label(RECLASSIFIED) == "통지를 제출 대기 상태로 되돌림(제출 기록 없음)"


@pytest.mark.django_db(transaction=True)
def test_upgrading_from_before_0009_reclassifies_with_an_event(agency, alice) -> None:  # type: ignore[no-untyped-def]
    """The real upgrade: a row the old code wrote at migration 0007, then `migrate`. The
    migration itself changes no status; the post_migrate step does, with an audit event."""
    from django.db.migrations.executor import MigrationExecutor

    before = ("cases", "0007_audit_anchors")
    call_command("migrate", *before, verbosity=0)  # post_migrate: skipped, 0009 pending
    old = MigrationExecutor(connection).loader.project_state(before).apps
    platform = old.get_model("cases", "Platform").objects.create(
        agency_id=agency.pk, name="Old Host", domains=["old.test"], channel="web_form"
    )
    fields = {
        "agency_id": agency.pk,
        "platform_id": platform.pk,
        "legal_basis": LegalBasis.KCSC,
        "language": "en",
        "channel": "web_form",
        "rendered_sha256": "1" * 64,
        "status": "sent",
        "sent_at": THEN,
        "due_at": THEN,
    }
    OldNotice = old.get_model("cases", "Notice")
    unanswered = OldNotice.objects.create(**fields)
    answered = OldNotice.objects.create(**fields, platform_reference="WF-7")

    call_command("migrate", verbosity=0)

    notice = Notice.objects.get(pk=unanswered.pk)
    assert notice.status == NoticeStatus.AWAITING_SUBMISSION and notice.finalised_at == THEN
    assert (notice.sent_at, notice.due_at) == (None, None)
    assert len(_events(notice)) == 1
    kept = Notice.objects.get(pk=answered.pk)
    assert kept.status == NoticeStatus.SENT and kept.finalised_at == THEN
    assert audit_chain_verify(agency=agency).ok
