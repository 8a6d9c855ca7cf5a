"""vPDQ frame sets in the exchange: a confirmed video fake publishes its frame set in the
feed's `vpdq` field (python-threatexchange's VpdqCompactFeature strings, the same as HMA
hashes the file), a reversed verdict deletes it, a partner storing the signal recognises a
re-encoded copy frame-set to frame-set (and not an unrelated video, nor one sharing a second
by one keyframe), and a page with a malformed vPDQ frame is refused whole."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from cases.evidence.models import Evidence
from cases.kernel.models import AuditEvent
from cases.matching.exchange_format import (
    MAX_VPDQ_PER_SIGNAL,
    FeedError,
    feed_dumps,
    feed_parse,
    feed_sign,
)
from cases.matching.models import (
    BankSignal,
    PartnerMatch,
    PartnerMatchKind,
    PartnerSignal,
    VpdqFingerprint,
)
from cases.matching.pdq.video import VpdqFrame, vpdq_compact, vpdq_match_set
from cases.matching.services.bank import bank_evidence_refresh, bank_page
from cases.matching.services.exchange import subscription_fetch, subscription_save
from cases.matching.services.partner_matching import partner_matches_record
from detection.models import ReviewVerdict
from tests.exchange.conftest import confirm, fake_of
from tests.exchange.test_subscriptions import BANK, feed_server, loopback  # noqa: F401
from tests.factories import make_finding
from tests.matching.conftest import store_image
from tests.matching.images import portrait, scene
from tests.matching.test_vpdq import (  # noqa: F401
    _clip,
    _korean_catalog,
    _mv,
    _video,
    needs_vpdq,
)

A = "a" * 64


def _hashes(count: int, seed: int) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(count)]


def _features(hashes: list[str], quality: int = 100) -> list[list[object]]:
    return [VpdqFrame(i * 8, h, quality, float(i)).as_json() for i, h in enumerate(hashes)]


def _frame_set(evidence: Evidence, hashes: list[str], quality: int = 100) -> None:
    """Give an item a vPDQ frame set as evidence_video_hash stores it (no vpdq needed)."""
    frames = [VpdqFrame.from_json(row) for row in _features(hashes, quality)]
    VpdqFingerprint.objects.update_or_create(
        evidence=evidence,
        defaults={
            "agency_id": evidence.agency_id,
            "features": _features(hashes, quality),
            "frame_count": len(hashes),
            "hashes": vpdq_match_set(frames).tobytes(),
        },
    )


def _entries(partner: Any, cursor: int = 0) -> list[dict[str, Any]]:
    body, _signature = bank_page(partner=partner, cursor=cursor)
    return json.loads(body)["signals"]


# ------------------------------------------------------------------- publish (no vpdq needed)


@pytest.mark.django_db
def test_the_frame_set_is_published_and_a_change_of_it_is_the_next_change(
    agency, bob, consenting, finding, partner_and_key
):
    partner, _key = partner_and_key
    fake = fake_of(agency, portrait("obama"), finding, bob)
    [before] = _entries(partner)
    assert before["vpdq"] == []
    hashes = _hashes(4, 1)
    _frame_set(fake, [*hashes, hashes[0]])  # a repeated frame is published once
    bank_evidence_refresh(evidence=fake)
    [entry] = _entries(partner, before["seq"])
    assert entry["seq"] > before["seq"]
    assert entry["vpdq"] == [f"{h},100,{float(i):.3}" for i, h in enumerate(hashes)]
    # The same frame set again: nothing partners can see changed, no new entry.
    bank_evidence_refresh(evidence=fake)
    assert _entries(partner, entry["seq"]) == []
    # Frames below quality 50 are not compared by HMA: not published either.
    _frame_set(fake, hashes, quality=49)
    bank_evidence_refresh(evidence=fake)
    [low] = _entries(partner, entry["seq"])
    assert low["vpdq"] == [] and low["seq"] > entry["seq"]


@pytest.mark.django_db
def test_a_frame_set_too_long_for_an_entry_is_left_out(
    agency, bob, consenting, finding, partner_and_key
):
    _partner, _key = partner_and_key
    fake = fake_of(agency, portrait("obama"), finding, bob)
    _frame_set(fake, _hashes(MAX_VPDQ_PER_SIGNAL + 1, 2))
    bank_evidence_refresh(evidence=fake)
    assert BankSignal.objects.get(evidence=fake).vpdq == []


@pytest.mark.django_db
def test_long_frame_sets_make_a_shorter_page_never_an_empty_one(
    monkeypatch, agency, bob, consenting, finding, partner_and_key
):
    from cases.matching.services import bank

    partner, _key = partner_and_key
    fakes = [fake_of(agency, portrait(name), finding, bob) for name in ("obama", "biden")]
    for seed, fake in enumerate(fakes):
        _frame_set(fake, _hashes(20, 10 + seed))
        bank_evidence_refresh(evidence=fake)
    body, _signature = bank_page(partner=partner, cursor=0)
    assert len(json.loads(body)["signals"]) == 2
    monkeypatch.setattr(bank, "PAGE_VPDQ_BYTES", 100)  # less than one entry
    first = json.loads(bank_page(partner=partner, cursor=0)[0])
    assert len(first["signals"]) == 1 and first["has_more"]
    second = json.loads(bank_page(partner=partner, cursor=first["next_cursor"])[0])
    assert len(second["signals"]) == 1 and not second["has_more"]
    assert {first["signals"][0]["id"], second["signals"][0]["id"]} == {f.sha256 for f in fakes}


# ------------------------------------------------------------- the feed's vpdq field, parsed


def _page(vpdq: Any) -> bytes:
    entry = {"id": A, "seq": 1, "op": "add", "sha256": A, "md5": "", "pdq": [], "vpdq": vpdq}
    return feed_dumps(
        {
            "format": "agencyguard-bank/1",
            "cursor": 0,
            "next_cursor": 1,
            "has_more": False,
            "signals": [{**entry, "labels": ["deepfake"]}],
        }
    )


GOOD = f"{'c' * 64},100,1.0"


@pytest.mark.parametrize(
    "vpdq",
    [
        "not a list",
        ["nonsense"],
        [f"{'c' * 64},101,1.0"],  # quality above 100
        [f"{'c' * 64},100,-1.0"],  # negative time
        [f"{'C' * 64},100,1.0"],  # not lowercase hex
        [f"{'c' * 63},100,1.0"],
        [f"{'c' * 64},100"],
        [f"{'c' * 64},100,1e999"],
        [GOOD, 7],
        [GOOD] * (MAX_VPDQ_PER_SIGNAL + 1),
    ],
)
def test_a_malformed_vpdq_frame_makes_the_page_malformed(vpdq: Any) -> None:
    with pytest.raises(FeedError, match=r"vpdq|vPDQ"):
        feed_parse(_page(vpdq), cursor=0)


def test_well_formed_frames_are_kept_as_sent() -> None:
    [entry] = feed_parse(_page([GOOD, f"{'d' * 64},49,1.23e+02"]), cursor=0).entries
    assert entry.vpdq == (GOOD, f"{'d' * 64},49,1.23e+02")


@pytest.mark.django_db
def test_a_page_with_a_malformed_vpdq_entry_is_refused_and_nothing_of_it_stored(
    feed_server,  # noqa: F811
    loopback,  # noqa: F811
    other_agency,
    mallory,
    caplog,
):
    url, handler = feed_server
    loopback(url)
    handler.body = _page([GOOD, "ff,100,1.0"])
    handler.signature = feed_sign("k", handler.body)
    subscription = subscription_save(
        agency=other_agency, actor=mallory, name="A", feed_url=url, api_key="x", signing_key="k"
    )
    report = subscription_fetch(subscription_id=subscription.pk)
    assert "vPDQ frame is malformed" in report.error and report.added == 0
    subscription.refresh_from_db()
    assert subscription.cursor == 0 and "vPDQ" in subscription.last_error
    assert not PartnerSignal.objects.exists()
    assert AuditEvent.objects.get(action="exchange.fetch_refused").data["added"] == 0
    assert "vPDQ frame is malformed" in caplog.text
    # The same page with well-formed frames is stored, frames as sent.
    handler.body = _page([GOOD])
    handler.signature = feed_sign("k", handler.body)
    assert subscription_fetch(subscription_id=subscription.pk).added == 1
    assert PartnerSignal.objects.get().vpdq == [GOOD]


# ----------------------------------------------------------- partner matching (no vpdq needed)


def _partner_signal(subscription: Any, hashes: list[str], signal_id: str = A) -> PartnerSignal:
    frames = [VpdqFrame(0, h, 100, float(i)) for i, h in enumerate(hashes)]
    return PartnerSignal.objects.create(
        agency_id=subscription.agency_id,
        subscription=subscription,
        signal_id=signal_id,
        sha256=signal_id,
        vpdq=[vpdq_compact(f) for f in frames],
        labels=["deepfake"],
        seq=1,
    )


@pytest.mark.django_db
def test_a_video_matches_a_partner_frame_set_by_hmas_rule_and_not_below_it(
    settings, other_agency, mallory
):
    settings.EXCHANGE_ALLOWED_PORTS = [443]
    subscription = subscription_save(
        agency=other_agency,
        actor=mallory,
        name="Aurora",
        feed_url="https://bank.example/api/exchange/bank/",
        api_key="k",
        signing_key="s",
    )
    theirs = _hashes(5, 3)
    _partner_signal(subscription, theirs)
    _partner_signal(subscription, _hashes(5, 4), signal_id="b" * 64)
    finding = make_finding(other_agency, "https://x.com/n/status/1", actor=mallory)
    item = store_image(other_agency, portrait("obama"), finding=finding, actor=mallory)
    PartnerMatch.objects.filter(evidence=item).delete()
    # Our video: 4 of the partner's 5 seconds, plus one of its own: 80% both ways.
    _frame_set(item, [*theirs[:4], _hashes(1, 5)[0]])
    [match] = partner_matches_record(evidence=item)
    assert (match.kind, match.signal_id, match.distance) == (PartnerMatchKind.VPDQ, A, 0)
    assert (match.evidence_frames_percent, match.signal_frames_percent) == (80.0, 80.0)
    assert match.how == "vPDQ 80% / 80%"
    event = AuditEvent.objects.get(action="evidence.partner_matched", object_id=str(item.pk))
    assert event.data["matches"][0]["how"] == "vPDQ 80% / 80%"
    # 3 of 5 seconds: below HMA's 80% on either side, no match.
    other = store_image(other_agency, portrait("biden"), finding=finding, actor=mallory)
    PartnerMatch.objects.filter(evidence=other).delete()
    _frame_set(other, [*theirs[:3], *_hashes(2, 6)])
    assert partner_matches_record(evidence=other) == []


# ------------------------------------------------------------- two instances, through vpdq


@pytest.mark.usefixtures("needs_vpdq")
@pytest.mark.django_db(transaction=True)
def test_a_partner_recognises_a_reencoded_copy_of_a_confirmed_video_by_its_frame_set(
    live_server,
    loopback,  # noqa: F811
    client,
    settings,
    agency,
    other_agency,
    alice,
    bob,
    mallory,
    consenting,
    finding,
    partner_and_key,
):
    from threatexchange.extensions.vpdq.vpdq import VPDQSignal

    loopback(live_server.url)
    partner, key = partner_and_key
    scenes = _mv()
    data = _clip(scenes)
    video = _video(agency, finding, bob, data, "mv.mp4")
    confirm(video, bob)
    [entry] = _entries(partner)
    assert len(entry["vpdq"]) == 5
    # Exactly what HMA's VPDQSignal makes of the same file: a platform uses it as is.
    with tempfile.NamedTemporaryFile(suffix=".mp4") as handle:
        handle.write(data)
        handle.flush()
        assert json.dumps(entry["vpdq"]) == VPDQSignal.hash_from_file(Path(handle.name))

    subscription = subscription_save(
        agency=other_agency,
        actor=mallory,
        name="Aurora Entertainment",
        feed_url=live_server.url + BANK,
        api_key=key,
        signing_key=partner.signing_key,
    )
    assert subscription_fetch(subscription_id=subscription.pk).error == ""
    assert PartnerSignal.objects.get(subscription=subscription).vpdq == entry["vpdq"]

    # Nebula's upload: the first second cut off, smaller, at a fifth of the bit rate.
    theirs = make_finding(other_agency, "https://x.com/nebula/status/7", actor=mallory)
    copy = _video(
        other_agency,
        theirs,
        mallory,
        _clip(scenes[1:], size=(256, 192), bit_rate=400_000),
        "re.mp4",
    )
    match = PartnerMatch.objects.get(evidence=copy)
    assert (match.kind, match.subscription) == (PartnerMatchKind.VPDQ, subscription)
    assert (match.evidence_frames_percent, match.signal_frames_percent) == (100.0, 80.0)
    assert match.distance <= 31 and match.how == "vPDQ 100% / 80%"
    client.force_login(mallory)
    page = client.get(reverse("finding_detail", args=[theirs.pk])).content.decode()
    assert "data-partner-vpdq" in page and "vPDQ: 100% of our frames, 80% of theirs" in page
    _korean_catalog(settings)
    client.post(reverse("set_language"), {"language": "ko", "next": "/"})
    korean = client.get(reverse("finding_detail", args=[theirs.pk])).content.decode()
    translation.activate(settings.LANGUAGE_CODE)
    assert "vPDQ: 우리 프레임의 100%, 상대 프레임의 80%" in korean

    # An unrelated video: no match. One that shares one second of five: not matched by
    # that second's keyframe either (frame sets are compared whole).
    unrelated = make_finding(other_agency, "https://x.com/nebula/status/8", actor=mallory)
    other = _video(other_agency, unrelated, mallory, _clip([scene(90 + i) for i in range(5)]), "o.mp4")  # fmt: skip
    one_second = make_finding(other_agency, "https://x.com/nebula/status/9", actor=mallory)
    sharing = _video(
        other_agency, one_second, mallory, _clip([scenes[0], *(scene(95 + i) for i in range(4))]), "s.mp4"
    )  # fmt: skip
    assert not PartnerMatch.objects.filter(evidence__in=[other, sharing]).exists()

    # The verdict reversed: the next page deletes the signal, the partner forgets it.
    confirm(video, bob, ReviewVerdict.NOT_FAKE)
    [deleted] = _entries(partner, entry["seq"])
    assert deleted["op"] == "delete" and "vpdq" not in deleted
    assert subscription_fetch(subscription_id=subscription.pk).deleted == 1
    assert not PartnerSignal.objects.filter(subscription=subscription).exists()


@pytest.mark.usefixtures("needs_vpdq")
@pytest.mark.django_db
def test_a_video_without_keyframes_is_still_matched_against_partner_frame_sets(
    monkeypatch, settings, other_agency, mallory
):
    """vPDQ read the video but PyAV gave no keyframes: the exchange still sees the frame set."""
    from cases.matching.pdq.video import vpdq_hash_file
    from cases.matching.services import fingerprints

    settings.EXCHANGE_ALLOWED_PORTS = [443]
    subscription = subscription_save(
        agency=other_agency,
        actor=mallory,
        name="Aurora",
        feed_url="https://bank.example/api/exchange/bank/",
        api_key="k",
        signing_key="s",
    )
    data = _clip(_mv())
    with tempfile.NamedTemporaryFile(suffix=".mp4") as handle:
        handle.write(data)
        handle.flush()
        frames = vpdq_hash_file(handle.name)
    PartnerSignal.objects.create(
        agency=other_agency,
        subscription=subscription,
        signal_id=A,
        sha256=A,
        vpdq=[vpdq_compact(f) for f in frames],
        seq=1,
    )
    monkeypatch.setattr(fingerprints, "evidence_video_keyframes", lambda *, evidence: None)
    finding = make_finding(other_agency, "https://x.com/n/status/1", actor=mallory)
    copy = _video(other_agency, finding, mallory, _clip(_mv(), bit_rate=400_000), "c.mp4")
    assert PartnerMatch.objects.get(evidence=copy).kind == PartnerMatchKind.VPDQ
