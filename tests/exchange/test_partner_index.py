"""The partner index is updated with what a fetched page changed, not rebuilt, and answers
exactly as an index built from scratch would."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
from django.utils import timezone

from cases.matching.models import PartnerSignal
from cases.matching.services.exchange import subscription_save
from cases.matching.services.partner_matching import partner_index_build, partner_index_for

pytestmark = pytest.mark.django_db


def _hash(rng: np.random.Generator) -> str:
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def test_a_page_updates_the_cached_index_in_place(settings, agency, alice):
    settings.EXCHANGE_ALLOWED_PORTS = [443]
    rng = np.random.default_rng(7)
    subscription = subscription_save(
        agency=agency,
        actor=alice,
        name="Nebula",
        feed_url="https://bank.nebula.example/api/exchange/bank/",
        api_key="k",
        signing_key="s",
    )
    start = timezone.now() - datetime.timedelta(minutes=5)
    signals = [
        PartnerSignal.objects.create(
            agency=agency,
            subscription=subscription,
            signal_id=f"{i:064x}",
            pdq=[_hash(rng), _hash(rng)],
            sha256=f"{i:064x}",
            seq=i + 1,
            fetched_at=start,
        )
        for i in range(5)
    ]
    index = partner_index_for(agency_id=agency.pk)
    assert dict(index.query_many([signals[0].pdq[1]], 0)) == {signals[0].pk: 0}

    # The next page: one signal deleted, one replaced, one added.
    old_hash = signals[1].pdq[0]
    signals[0].delete()
    signals[1].pdq = [_hash(rng)]
    signals[1].fetched_at = timezone.now()
    signals[1].save()
    added = PartnerSignal.objects.create(
        agency=agency,
        subscription=subscription,
        signal_id="a" * 64,
        pdq=[_hash(rng)],
        sha256="a" * 64,
        seq=9,
    )
    updated = partner_index_for(agency_id=agency.pk)
    assert updated is index  # updated in place, not rebuilt
    queries = [h for s in PartnerSignal.objects.all() for h in s.pdq] + [old_hash, *signals[0].pdq]
    fresh = partner_index_build(agency_id=agency.pk)
    for query in queries:
        assert dict(updated.query_many([query], 31)) == dict(fresh.query_many([query], 31))
    assert dict(updated.query_many([added.pdq[0]], 0)) == {added.pk: 0}
    assert updated.query_many([old_hash], 0) == []
    assert updated.query_many([signals[0].pdq[0]], 0) == []
