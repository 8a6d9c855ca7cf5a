"""A watched-source item whose image is a partner's confirmed fake is recognised by it: the
poll records a finding whose reason names the partner, the signal and the distance. Items
whose media match nothing (and name no artist) are left alone."""

from __future__ import annotations

import pytest

from cases.intake.models import Finding, FindingSource
from cases.intake.services.source_polls import watched_source_poll
from cases.intake.services.watched_sources import watched_source_save
from cases.matching.pdq.images import pdq_analyse
from tests.exchange.conftest import partner_signal
from tests.matching.images import jpeg_bytes, portrait, resized, scene
from tests.monitor.conftest import web  # noqa: F401 (the fixture web through the loopback switch)

pytestmark = pytest.mark.django_db

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>uploads</title><link>https://www.tiktok.com/</link>
<item><title>new upload</title><link>https://www.tiktok.com/@anon/video/777</link>
<enclosure url="{copy}" type="image/jpeg" length="1"/></item>
<item><title>holiday</title><link>https://www.tiktok.com/@anon/video/778</link>
<enclosure url="{other}" type="image/jpeg" length="1"/></item>
</channel></rss>"""


def test_a_watched_item_matching_a_partner_signal_becomes_a_finding(
    web,  # noqa: F811
    settings,
    agency,
    alice,
):
    settings.EXCHANGE_ALLOWED_PORTS = [443]
    original = jpeg_bytes(portrait("obama"), 92)
    partner_signal(agency, alice, pdq=[pdq_analyse(original).hex], md5="e" * 32)
    web.serve("/media/copy.jpg", "image/jpeg", jpeg_bytes(resized(portrait("obama"), 0.6), 75))
    web.serve("/media/other.jpg", "image/jpeg", jpeg_bytes(scene(3), 80))
    feed = FEED.format(copy=web.url("/media/copy.jpg"), other=web.url("/media/other.jpg"))
    web.serve("/uploads.xml", "application/rss+xml", feed.encode())
    source = watched_source_save(
        agency=agency,
        actor=alice,
        name="Uploads",
        kind="feed",
        url=web.url("/uploads.xml"),
        interval_minutes=60,
    )
    outcome = watched_source_poll(source_id=source.pk)
    assert (outcome.items_seen, outcome.findings) == (2, 1), outcome
    finding = Finding.objects.get(agency=agency, source=FindingSource.MONITOR)
    assert finding.canonical_url.endswith("/video/777")
    reason = finding.discoveries.get().reason
    assert reason.startswith("partner 'Nebula Music' signal ffffffffffff (PDQ distance ")
    assert web.requests_to("/media/other.jpg")  # looked at, matched nothing
