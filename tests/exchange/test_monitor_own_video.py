"""A watched-source item whose video copies the agency's reference video or a partner's
video signal is recognised by vPDQ (frame set to frame set, HMA's rule), with the artist; an
unrelated video is not. The bytes say it is a video (not the URL or the Content-Type). A
whole copy is strong, a clip of a longer video is not. Without the vpdq package a video is
matched by its exact hashes only, and the temporary file is removed."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from cases.evidence.models import Capture
from cases.intake.models import Finding, FindingSource
from cases.intake.monitor.models import WatchedSource
from cases.intake.services.source_polls import watched_source_poll
from cases.kernel.models import AuditEvent
from cases.matching.models import VpdqFingerprint
from cases.matching.pdq.video import VpdqUnavailable, vpdq_compact, vpdq_hash_file
from cases.matching.services import media_recognise
from cases.matching.services.reference_media import reference_media_add
from tests.exchange.conftest import partner_signal, uploads_source
from tests.matching.images import scene
from tests.matching.test_vpdq import _clip, _mv, needs_vpdq  # noqa: F401
from tests.monitor.conftest import web  # noqa: F401 (the fixture web through the loopback switch)

pytestmark = pytest.mark.django_db


def _reencoded(scenes) -> bytes:  # type: ignore[no-untyped-def]
    """Another size and bit rate: not the same file, the same video."""
    return _clip(scenes, size=(256, 192), bit_rate=400_000)


def _unrelated() -> bytes:
    return _clip([scene(90 + i) for i in range(5)])


def _reference(agency, alice, artist, data: bytes, capture_on_commit):  # type: ignore[no-untyped-def]
    with capture_on_commit(execute=True):  # hashed by the task queued after commit
        return reference_media_add(
            agency=agency,
            artist=artist,
            title="Official MV 'Starlight' 2024",
            data=data,
            original_name="starlight.mp4",
            actor=alice,
        )


def _source(web, agency, alice, copy: bytes, **fields):  # type: ignore[no-untyped-def]  # noqa: F811
    # Served under a picture's name and type: only the bytes say it is a video.
    other = ("/media/other.mp4", "video/mp4", _unrelated())
    return uploads_source(web, agency, alice, copy, other, **fields)


def _discovered() -> Finding:
    return Finding.objects.get(source=FindingSource.MONITOR)


@pytest.mark.usefixtures("needs_vpdq")
def test_a_reencoded_copy_of_a_reference_video_is_recognised_by_vpdq(
    web,  # noqa: F811
    agency,
    alice,
    artist,
    django_capture_on_commit_callbacks,
):
    reference = _reference(agency, alice, artist, _clip(_mv()), django_capture_on_commit_callbacks)
    assert VpdqFingerprint.objects.filter(evidence_id=reference.evidence_id).exists()
    source = _source(web, agency, alice, _reencoded(_mv()), capture_strong_matches=True)
    outcome = watched_source_poll(source_id=source.pk)
    assert (outcome.items_seen, outcome.findings) == (2, 1), outcome
    finding = _discovered()
    assert finding.canonical_url.endswith("/video/777")
    reason = finding.discoveries.get().reason
    assert re.fullmatch(rf"vPDQ 100% / 100% to reference #{reference.pk}", reason), reason
    assert list(finding.artists.all()) == [artist]
    # A whole copy is strong: the source asked, so the finding is captured.
    assert Capture.objects.filter(finding=finding).exists()
    assert AuditEvent.objects.get(action="watched_source.discovered").data["strong_match"]
    # The unrelated video was fetched, hashed and matched nothing.
    assert len(web.requests_to("/media/other.mp4")) == 1
    assert not Finding.objects.filter(canonical_url__endswith="/video/778").exists()


@pytest.mark.usefixtures("needs_vpdq")
def test_a_clip_of_a_reference_video_is_recognised_but_not_strong(
    web,  # noqa: F811
    agency,
    alice,
    artist,
    django_capture_on_commit_callbacks,
):
    reference = _reference(agency, alice, artist, _clip(_mv()), django_capture_on_commit_callbacks)
    source = _source(web, agency, alice, _reencoded(_mv()[:2]), capture_strong_matches=True)
    watched_source_poll(source_id=source.pk)
    finding = _discovered()
    reason = finding.discoveries.get().reason
    # All of the clip's frames are in the MV, two fifths of the MV's in the clip.
    assert reason == f"vPDQ 100% / 40% to reference #{reference.pk}", reason
    assert not Capture.objects.exists()
    assert not AuditEvent.objects.get(action="watched_source.discovered").data["strong_match"]


@pytest.mark.usefixtures("needs_vpdq")
@pytest.mark.parametrize(("trust", "captured"), [("high", True), ("low", False)])
def test_a_partner_video_signal_recognises_a_copy(
    web,  # noqa: F811
    settings,
    agency,
    alice,
    tmp_path,
    trust,
    captured,
):
    settings.EXCHANGE_ALLOWED_PORTS = [443]
    original = tmp_path / "fake.mp4"
    original.write_bytes(_clip(_mv()))
    frames = vpdq_hash_file(original)
    partner_signal(agency, alice, trust=trust, vpdq=[vpdq_compact(f) for f in frames])
    source = _source(web, agency, alice, _reencoded(_mv()), capture_strong_matches=True)
    outcome = watched_source_poll(source_id=source.pk)
    assert outcome.findings == 1, outcome
    finding = _discovered()
    reason = finding.discoveries.get().reason
    assert reason == "partner 'Nebula Music' signal ffffffffffff (vPDQ 100% / 100%)", reason
    # A partner trusted little is never strong, however whole the copy.
    assert Capture.objects.filter(finding=finding).exists() is captured


def test_without_vpdq_a_video_is_matched_by_its_exact_hashes_only(
    web,  # noqa: F811
    agency,
    alice,
    artist,
    monkeypatch,
    caplog,
    django_capture_on_commit_callbacks,
):
    original = _clip(_mv())
    reference = _reference(agency, alice, artist, original, django_capture_on_commit_callbacks)
    paths: list[Path] = []

    def missing(path):  # type: ignore[no-untyped-def]
        paths.append(Path(path))
        assert Path(path).stat().st_size > 0  # the fetched body, written out
        raise VpdqUnavailable("the vpdq package is not installed: No module named 'vpdq'")

    monkeypatch.setattr(media_recognise, "vpdq_hash_file", missing)
    # A re-encoded copy: no vPDQ, so no reason and no crash.
    source = _source(web, agency, alice, _reencoded(_mv()))
    with caplog.at_level(logging.INFO, logger=media_recognise.__name__):
        outcome = watched_source_poll(source_id=source.pk)
    assert (outcome.items_seen, outcome.findings) == (2, 0), outcome
    assert len(paths) == 2 and not any(p.exists() for p in paths)  # removed on error
    assert "not vPDQ-hashed, exact hashes only" in caplog.text
    # The same file is still recognised, by its SHA-256.
    web.serve("/media/copy.jpg", "image/jpeg", original)
    source.delete()
    source = _source(web, agency, alice, original)
    watched_source_poll(source_id=source.pk)
    reason = _discovered().discoveries.get().reason
    assert reason == f"same sha256 as reference #{reference.pk}"
    assert "vPDQ" not in reason


@pytest.mark.usefixtures("needs_vpdq")
def test_a_broken_video_is_not_recognised_and_the_poll_goes_on(
    web,  # noqa: F811
    agency,
    alice,
    artist,
    caplog,
    django_capture_on_commit_callbacks,
):
    _reference(agency, alice, artist, _clip(_mv()), django_capture_on_commit_callbacks)
    # The first bytes of a copy: a video by its header, that vPDQ cannot read through.
    broken = _reencoded(_mv())[:2048]
    source = _source(web, agency, alice, broken)
    with caplog.at_level(logging.INFO, logger=media_recognise.__name__):
        outcome = watched_source_poll(source_id=source.pk)
    assert (outcome.items_seen, outcome.findings) == (2, 0), outcome
    assert "not vPDQ-hashed" in caplog.text
    source.refresh_from_db()
    assert source.last_error == ""  # the source itself is fine


def test_the_switch_says_the_video_rule_in_english_and_korean(client, agency, bob):  # type: ignore[no-untyped-def]
    from django.urls import reverse

    client.force_login(bob)
    form = client.get(reverse("watched_source_create")).content.decode()
    assert "a video with 80% or more of each one's frames in the other" in form
    client.post(
        reverse("watched_source_create"),
        {
            "name": "Board",
            "kind": "feed",
            "url": "https://board.example/feed.xml",
            "interval_minutes": 60,
            "active": "on",
            "capture_strong_matches": "on",
        },
    )
    page = reverse("watched_source_detail", args=[WatchedSource.objects.get().pk])
    english = client.get(page).content.decode()
    assert "PDQ distance 10 or less, as a video with 80% or more of each one" in english
    korean = client.get(page, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "양쪽 프레임의 80% 이상이 서로 일치하는 동영상" in korean
