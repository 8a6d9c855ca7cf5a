"""A watched-source item whose image is a partner's confirmed fake is recognised by it: the
poll records a finding whose reason names the partner, the signal and the distance. Items
whose media match nothing (and name no artist) are left alone."""

from __future__ import annotations

import pytest

from cases.intake.models import Finding, FindingSource
from cases.intake.services.source_polls import watched_source_poll
from cases.matching.pdq.images import pdq_analyse
from tests.exchange.conftest import partner_signal, uploads_source
from tests.matching.images import jpeg_bytes, portrait, resized, scene
from tests.monitor.conftest import web  # noqa: F401 (the fixture web through the loopback switch)

pytestmark = pytest.mark.django_db


def test_a_watched_item_matching_a_partner_signal_becomes_a_finding(
    web,  # noqa: F811
    settings,
    agency,
    alice,
):
    settings.EXCHANGE_ALLOWED_PORTS = [443]
    original = jpeg_bytes(portrait("obama"), 92)
    partner_signal(agency, alice, pdq=[pdq_analyse(original).hex], md5="e" * 32)
    copy = jpeg_bytes(resized(portrait("obama"), 0.6), 75)
    other = ("/media/other.jpg", "image/jpeg", jpeg_bytes(scene(3), 80))
    source = uploads_source(web, agency, alice, copy, other)
    outcome = watched_source_poll(source_id=source.pk)
    assert (outcome.items_seen, outcome.findings) == (2, 1), outcome
    finding = Finding.objects.get(agency=agency, source=FindingSource.MONITOR)
    assert finding.canonical_url.endswith("/video/777")
    reason = finding.discoveries.get().reason
    assert reason.startswith("partner 'Nebula Music' signal ffffffffffff (PDQ distance ")
    assert web.requests_to("/media/other.jpg")  # looked at, matched nothing
