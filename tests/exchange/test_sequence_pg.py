"""The bank's change sequence is handed out in commit order (PostgreSQL, two connections):
a second writer waits for the first to commit, so a reader's cursor never passes a change
that commits later with a lower number."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from cases.matching.models import BankSignal
from cases.matching.services.bank import bank_verdict_set
from tests.conftest import require_service
from tests.factories import make_finding
from tests.matching.conftest import store_image
from tests.matching.images import scene


@pytest.mark.django_db(transaction=True)
def test_a_second_writer_waits_for_the_first_to_commit(agency, bob, consenting):
    require_service(connection.vendor == "postgresql", "row locks need PostgreSQL")
    finding = make_finding(agency, "https://x.com/fake/status/1", actor=bob, artists=[consenting])
    first = store_image(agency, scene(90), finding=finding, actor=bob)
    second = store_image(agency, scene(91), finding=finding, actor=bob)
    holding, release, second_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                bank_verdict_set(evidence=first, confirmed=True, actor=bob)
                holding.set()
                release.wait(10)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    def fast_writer() -> None:
        try:
            holding.wait(10)
            bank_verdict_set(evidence=second, confirmed=True, actor=bob)
            second_done.set()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=slow_writer), threading.Thread(target=fast_writer)]
    for thread in threads:
        thread.start()
    assert holding.wait(10)
    time.sleep(0.5)
    assert not second_done.is_set(), (
        "the second writer numbered a change before the first committed"
    )
    release.set()
    for thread in threads:
        thread.join(20)
    assert not errors, errors
    seqs = dict(BankSignal.objects.values_list("evidence_id", "seq"))
    assert seqs[first.pk] < seqs[second.pk]
