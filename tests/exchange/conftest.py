"""Exchange fixtures: confirmed fakes of consenting artists, partners and their keys."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from cases.agency.services.consent import artist_consent_record
from cases.evidence.models import Evidence
from cases.intake.services.watched_sources import watched_source_save
from cases.matching.models import PartnerSignal
from cases.matching.services.exchange import partner_create, subscription_save
from cases.matching.services.index import matching_cache_clear
from cases.matching.services.partner_matching import partner_cache_clear
from detection.models import ReviewVerdict
from detection.services.reviews import detection_review_record
from tests.matching.conftest import store_image


@pytest.fixture(autouse=True)
def _fresh_caches():  # type: ignore[no-untyped-def]
    matching_cache_clear()
    partner_cache_clear()
    yield
    matching_cache_clear()
    partner_cache_clear()


def confirm(evidence: Evidence, actor: Any, verdict: str = ReviewVerdict.CONFIRMED_FAKE) -> None:
    detection_review_record(evidence=evidence, verdict=verdict, actor=actor)


def fake_of(agency: Any, image: Image.Image, finding: Any, actor: Any) -> Evidence:
    """An image stored as the finding's evidence, hashed, and confirmed fake by `actor`."""
    evidence = store_image(agency, image, finding=finding, actor=actor)
    confirm(evidence, actor)
    evidence.refresh_from_db()
    return evidence


@pytest.fixture
def consenting(artist, alice):  # type: ignore[no-untyped-def]
    artist_consent_record(artist=artist, actor=alice, note="signed form 2026-11-30")
    return artist


@pytest.fixture
def partner_and_key(agency, alice):  # type: ignore[no-untyped-def]
    return partner_create(agency=agency, actor=alice, name="Nebula Music")


def partner_signal(agency: Any, actor: Any, *, trust: str = "medium", **fields: Any) -> Any:
    """A subscription to the partner "Nebula Music" at `trust` and one signal of it, with
    the hashes in `fields` (pdq=[...], vpdq=[...], md5=...); its SHA-256 matches nothing."""
    subscription = subscription_save(
        agency=agency,
        actor=actor,
        name="Nebula Music",
        feed_url="https://bank.nebula.example/api/exchange/bank/",
        api_key="agx_k_k",
        signing_key="s",
        trust=trust,
    )
    return PartnerSignal.objects.create(
        agency=agency,
        subscription=subscription,
        signal_id="f" * 64,
        sha256="f" * 64,
        labels=["deepfake"],
        seq=1,
        **fields,
    )


UPLOADS_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>uploads</title><link>https://www.tiktok.com/</link>
<item><title>new upload</title><link>https://www.tiktok.com/@anon/video/777</link>
<enclosure url="{copy}" type="image/jpeg" length="1"/></item>
<item><title>holiday</title><link>https://www.tiktok.com/@anon/video/778</link>
<enclosure url="{other}" type="{other_type}" length="1"/></item>
</channel></rss>"""


def uploads_source(
    web: Any,
    agency: Any,
    actor: Any,
    copy: bytes,
    other: tuple[str, str, bytes],
    **fields: Any,
) -> Any:
    """A feed source on the fixture web with two items: video 777 whose media is `copy`
    (served as /media/copy.jpg, image/jpeg, whatever it is) and video 778 whose media is
    `other` (path, type, bytes)."""
    other_path, other_type, other_body = other
    web.serve("/media/copy.jpg", "image/jpeg", copy)
    web.serve(other_path, other_type, other_body)
    feed = UPLOADS_FEED.format(
        copy=web.url("/media/copy.jpg"), other=web.url(other_path), other_type=other_type
    )
    web.serve("/uploads.xml", "application/rss+xml", feed.encode())
    return watched_source_save(
        agency=agency,
        actor=actor,
        name="Uploads",
        kind="feed",
        url=web.url("/uploads.xml"),
        interval_minutes=60,
        **fields,
    )
