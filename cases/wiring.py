"""The composition root of the cases app: connects each context's hooks to the contexts
above it, so that dependencies between contexts point one way (docs/architecture.md).
Imported and called once from CasesConfig.ready, when the app registry is ready."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_migrate, pre_migrate

from cases.agency.signals import agency_created, artist_consent_changed
from cases.evidence.services.captures import capture_request
from cases.evidence.services.removal_signatures import removal_signatures_seed
from cases.evidence.signals import evidence_stored
from cases.intake.artist_ids_sql import ARTIST_IDS
from cases.intake.checks import fan_report_rate_check  # noqa: F401  (system check)
from cases.intake.counter_sql import finding_counter_triggers_ensure
from cases.intake.models import Finding
from cases.intake.monitor.recognise import recogniser_register
from cases.intake.signals import fan_screenshot_stored, finding_removed, strong_match_discovered
from cases.intake.triage_choices import connect_invalidation as triage_choices_invalidation
from cases.kernel import checks  # noqa: F401  (deploy system checks)
from cases.kernel.audit import keys, signals  # noqa: F401  (system check; login auditing)
from cases.kernel.bodylimit import body_limit_middleware_check  # noqa: F401  (system check)
from cases.kernel.outbox import outbox_enqueue
from cases.matching.services.bank import bank_artist_refresh, bank_finding_refresh
from cases.matching.services.media_recognise import recognise_media
from cases.notices.latest_sql import latest_notice_triggers_drop, latest_notice_triggers_ensure
from cases.notices.services.outcomes import notices_close_for_removed_finding
from cases.notices.signals import reclassify_after_migrate


def _close_notices(sender: Any, *, finding: Any, capture: Any = None, **kwargs: Any) -> None:
    notices_close_for_removed_finding(finding=finding, capture=capture)


def _seed_removal_signatures(sender: Any, *, agency: Any, **kwargs: Any) -> None:
    removal_signatures_seed(agency=agency)


def _match_new_evidence(sender: Any, *, evidence_id: int, **kwargs: Any) -> None:
    # Called in the transaction that stored the evidence: sent when it commits.
    outbox_enqueue("cases.matching.tasks.evidence_pdq_task", evidence_id=evidence_id)


def _match_fan_screenshot(sender: Any, *, screenshot_id: int, **kwargs: Any) -> None:
    # Called in the transaction that stored the screenshot: sent when it commits.
    outbox_enqueue("cases.matching.tasks.fan_screenshot_pdq_task", screenshot_id=screenshot_id)


def _capture_strong_match(sender: Any, *, finding: Any, **kwargs: Any) -> Any:
    # In the poll's transaction that recorded the finding: the capture row commits with it
    # and its task is sent after commit (the outbox). Never a notice.
    return capture_request(finding=finding, actor=None)


def _bank_consent(sender: Any, *, artist: Any, **kwargs: Any) -> None:
    # In the consent service's transaction: the bank's change commits with the consent's.
    bank_artist_refresh(artist=artist)


def _bank_finding_artists(
    sender: Any, *, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    # A finding's artists changed (from either side of the link): the exchange bank
    # re-checks consent for its evidence, in the same transaction.
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        bank_finding_refresh(finding_ids=[instance.pk])
    elif pk_set:
        bank_finding_refresh(finding_ids=pk_set)


def _counter_triggers(sender: Any, *, using: str = "default", **kwargs: Any) -> None:
    finding_counter_triggers_ensure(using=using)
    latest_notice_triggers_ensure(using=using)
    ARTIST_IDS.ensure_after_migrate(using=using)


def _drop_sqlite_triggers(sender: Any, *, using: str = "default", **kwargs: Any) -> None:
    latest_notice_triggers_drop(using=using)
    ARTIST_IDS.drop_before_migrate(using=using)


def connect(app: AppConfig) -> None:
    finding_removed.connect(_close_notices, dispatch_uid="notices_close_for_removed_finding")
    agency_created.connect(_seed_removal_signatures, dispatch_uid="removal_signatures_seed")
    evidence_stored.connect(_match_new_evidence, dispatch_uid="evidence_pdq_task")
    fan_screenshot_stored.connect(_match_fan_screenshot, dispatch_uid="fan_screenshot_pdq_task")
    artist_consent_changed.connect(_bank_consent, dispatch_uid="bank_artist_refresh")
    # Watched-source items whose media match reference media or a confirmed fake (the
    # agency's own, or a partner's through the exchange).
    recogniser_register(recognise_media)
    strong_match_discovered.connect(_capture_strong_match, dispatch_uid="capture_strong_match")
    m2m_changed.connect(
        _bank_finding_artists, sender=Finding.artists.through, dispatch_uid="bank_finding_refresh"
    )
    post_migrate.connect(reclassify_after_migrate, sender=app, dispatch_uid="cases_reclassify")
    pre_migrate.connect(_drop_sqlite_triggers, sender=app, dispatch_uid="drop_sqlite_triggers")
    post_migrate.connect(_counter_triggers, sender=app, dispatch_uid="finding_counter_triggers")
    triage_choices_invalidation()
