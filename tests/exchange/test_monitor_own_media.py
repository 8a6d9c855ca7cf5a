"""A watched-source item whose image copies the agency's own media (its reference media, a
confirmed fake of its bank) is recognised by it, with the artist; unrelated and too plain
images are not. Each media file is fetched and hashed once, however many places it is looked
up in. A source that asks for it gets a capture of a new finding of a strong match: once,
never for a weak match, never when it did not ask, never a notice."""

from __future__ import annotations

import dataclasses
import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.evidence.models import Capture
from cases.intake.models import Finding, FindingSource
from cases.intake.monitor.models import Discovery, WatchedSource
from cases.intake.services.source_polls import watched_source_poll
from cases.kernel.models import AuditEvent
from cases.matching.pdq.images import pdq_analyse
from cases.matching.services import media_recognise
from cases.matching.services.reference_media import reference_media_add
from cases.notices.models import Notice
from tests.exchange.conftest import fake_of, partner_signal, uploads_source
from tests.factories import ArtistFactory, make_finding
from tests.matching.conftest import store_image
from tests.matching.images import jpeg_bytes, png_bytes, portrait, resized, scene
from tests.monitor.conftest import web  # noqa: F401 (the fixture web through the loopback switch)

pytestmark = pytest.mark.django_db


def _reference(agency, alice, artist, image, capture_on_commit):  # type: ignore[no-untyped-def]
    with capture_on_commit(execute=True):  # hashed by the task queued after commit
        return reference_media_add(
            agency=agency,
            artist=artist,
            title="Official MV 'Starlight' 2024",
            data=png_bytes(image),
            original_name="starlight.png",
            actor=alice,
        )


def _source(web, agency, alice, copy: bytes, **fields):  # type: ignore[no-untyped-def]  # noqa: F811
    other = ("/media/other.jpg", "image/jpeg", jpeg_bytes(scene(3), 80))
    return uploads_source(web, agency, alice, copy, other, **fields)


def _copy_of_obama() -> bytes:
    return jpeg_bytes(resized(portrait("obama"), 0.6), 75)


def test_a_copy_of_reference_media_is_recognised_with_the_reference_and_its_artist(
    web,  # noqa: F811
    agency,
    alice,
    artist,
    django_capture_on_commit_callbacks,
):
    reference = _reference(
        agency, alice, artist, portrait("obama"), django_capture_on_commit_callbacks
    )
    source = _source(web, agency, alice, _copy_of_obama())
    outcome = watched_source_poll(source_id=source.pk)
    assert (outcome.items_seen, outcome.findings) == (2, 1), outcome
    finding = Finding.objects.get(agency=agency, source=FindingSource.MONITOR)
    assert finding.canonical_url.endswith("/video/777")
    reason = finding.discoveries.get().reason
    assert re.fullmatch(rf"PDQ distance \d+ to reference #{reference.pk}", reason), reason
    assert list(finding.artists.all()) == [artist]
    # The unrelated picture was looked at and matched nothing.
    assert len(web.requests_to("/media/other.jpg")) == 1
    assert not Finding.objects.filter(canonical_url__endswith="/video/778").exists()


def test_the_same_file_as_reference_media_is_an_exact_match(
    web,  # noqa: F811
    agency,
    alice,
    artist,
    django_capture_on_commit_callbacks,
):
    reference = _reference(
        agency, alice, artist, portrait("obama"), django_capture_on_commit_callbacks
    )
    source = _source(web, agency, alice, png_bytes(portrait("obama")))
    watched_source_poll(source_id=source.pk)
    finding = Finding.objects.get(agency=agency, source=FindingSource.MONITOR)
    assert finding.discoveries.get().reason == f"same sha256 as reference #{reference.pk}"


def test_a_copy_of_a_confirmed_fake_names_the_fake_and_its_finding(
    web,  # noqa: F811
    agency,
    alice,
    artist,
    finding,
):
    mina = ArtistFactory(agency=agency, stage_name="Mina", name_hangul="미나", name_latin="")
    finding.artists.add(mina)
    fake = fake_of(agency, portrait("obama"), finding, alice)
    source = _source(web, agency, alice, _copy_of_obama())
    watched_source_poll(source_id=source.pk)
    found = Finding.objects.get(agency=agency, source=FindingSource.MONITOR)
    reason = found.discoveries.get().reason
    # One reason, said once, though it carries both artists of the fake's finding.
    expected = rf"PDQ distance \d+ to confirmed fake evidence #{fake.pk} \(finding #{finding.pk}\)"
    assert re.fullmatch(expected, reason), reason
    assert set(found.artists.all()) == {artist, mina}


def test_evidence_that_is_neither_reference_nor_confirmed_is_no_reason(
    web,  # noqa: F811
    agency,
    alice,
    artist,
    finding,
    django_capture_on_commit_callbacks,
):
    # Something to match exists (a reference of another picture), and the copy's original
    # is stored as unreviewed evidence: the copy is in the index, yet no reason.
    _reference(agency, alice, artist, portrait("biden"), django_capture_on_commit_callbacks)
    store_image(agency, portrait("obama"), finding=finding, actor=alice)
    source = _source(web, agency, alice, _copy_of_obama())
    outcome = watched_source_poll(source_id=source.pk)
    assert (outcome.items_seen, outcome.findings) == (2, 0)
    assert len(web.requests_to("/media/copy.jpg")) == 1  # fetched: there was something to match


def test_nothing_is_fetched_without_own_media_or_partner_signals(
    web,  # noqa: F811
    agency,
    alice,
):
    source = _source(web, agency, alice, _copy_of_obama())
    outcome = watched_source_poll(source_id=source.pk)
    assert (outcome.items_seen, outcome.findings) == (2, 0)
    assert not web.requests_to("/media/copy.jpg")


def test_media_are_fetched_and_hashed_once_for_partner_signals_and_own_media(
    web,  # noqa: F811
    settings,
    agency,
    alice,
    artist,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    settings.EXCHANGE_ALLOWED_PORTS = [443]
    reference = _reference(
        agency, alice, artist, portrait("obama"), django_capture_on_commit_callbacks
    )
    partner_signal(
        agency, alice, pdq=[pdq_analyse(jpeg_bytes(portrait("obama"), 92)).hex], md5="e" * 32
    )
    hashed: list[int] = []

    def counting(data):  # type: ignore[no-untyped-def]
        hashed.append(len(data))
        return pdq_analyse(data)

    monkeypatch.setattr(media_recognise, "pdq_analyse", counting)
    source = _source(web, agency, alice, _copy_of_obama())
    watched_source_poll(source_id=source.pk)
    reason = Finding.objects.get(source=FindingSource.MONITOR).discoveries.get().reason
    own, partner = reason.split("; ")
    assert own.endswith(f"to reference #{reference.pk}")
    assert partner.startswith("partner 'Nebula Music' signal ffffffffffff (PDQ distance ")
    assert len(web.requests_to("/media/copy.jpg")) == 1
    assert len(web.requests_to("/media/other.jpg")) == 1
    assert len(hashed) == 2  # one hash per media file, for both lookups


def test_a_low_quality_hash_is_not_looked_up(
    web,  # noqa: F811
    agency,
    alice,
    artist,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    _reference(agency, alice, artist, portrait("obama"), django_capture_on_commit_callbacks)

    def too_plain(data):  # type: ignore[no-untyped-def]
        return dataclasses.replace(pdq_analyse(data), quality=10)

    monkeypatch.setattr(media_recognise, "pdq_analyse", too_plain)
    source = _source(web, agency, alice, _copy_of_obama())
    outcome = watched_source_poll(source_id=source.pk)
    assert (outcome.items_seen, outcome.findings) == (2, 0)
    assert len(web.requests_to("/media/copy.jpg")) == 1


# --- capture of strong matches ------------------------------------------------------------


def _distance(finding: Finding) -> int:
    match = re.match(r"PDQ distance (\d+)", finding.discoveries.get().reason)
    assert match is not None
    return int(match.group(1))


def _poll_again(source: WatchedSource) -> None:
    later = timezone.now() + datetime.timedelta(hours=2)
    watched_source_poll(source_id=source.pk, now=later)


def test_a_strong_match_is_captured_once_when_the_source_asks(
    web,  # noqa: F811
    agency,
    alice,
    artist,
    django_capture_on_commit_callbacks,
):
    _reference(agency, alice, artist, portrait("obama"), django_capture_on_commit_callbacks)
    source = _source(web, agency, alice, _copy_of_obama(), capture_strong_matches=True)
    watched_source_poll(source_id=source.pk)
    finding = Finding.objects.get(source=FindingSource.MONITOR)
    assert _distance(finding) <= 10
    [capture] = Capture.objects.all()
    assert capture.finding_id == finding.pk and capture.collector is None
    discovered = AuditEvent.objects.get(action="watched_source.discovered")
    assert discovered.data["strong_match"] and discovered.data["capture_requested"]
    discovery = finding.discoveries.get()
    assert discovery.strong_match and discovery.capture_requested
    # A re-poll sees the item again (its key forgotten, as after a crash before the poll
    # finished): the finding exists already, so nothing more is requested.
    WatchedSource.objects.filter(pk=source.pk).update(seen_keys=[], validators={})
    Capture.objects.update(status="done")
    _poll_again(source)
    assert Capture.objects.count() == 1
    assert not Notice.objects.exists()


def test_no_capture_when_the_source_does_not_ask(
    web,  # noqa: F811
    client,
    agency,
    alice,
    artist,
    django_capture_on_commit_callbacks,
):
    _reference(agency, alice, artist, portrait("obama"), django_capture_on_commit_callbacks)
    source = _source(web, agency, alice, _copy_of_obama())
    watched_source_poll(source_id=source.pk)
    assert Finding.objects.filter(source=FindingSource.MONITOR).count() == 1
    assert not Capture.objects.exists()
    assert not AuditEvent.objects.get(action="watched_source.discovered").data["capture_requested"]
    discovery = Finding.objects.get(source=FindingSource.MONITOR).discoveries.get()
    assert discovery.strong_match and not discovery.capture_requested
    client.force_login(alice)
    page = client.get(reverse("watched_source_detail", args=[source.pk])).content.decode()
    assert "strong match, not requested" in page and "requested (strong match)" not in page
    # The column reads the record: a discovery whose capture was asked says so.
    Discovery.objects.update(capture_requested=True)
    page = client.get(reverse("watched_source_detail", args=[source.pk])).content.decode()
    assert "requested (strong match)" in page


def test_no_capture_for_a_weak_match(
    web,  # noqa: F811
    settings,
    agency,
    alice,
    artist,
    django_capture_on_commit_callbacks,
):
    _reference(agency, alice, artist, portrait("obama"), django_capture_on_commit_callbacks)
    settings.MONITOR_STRONG_DISTANCE = -1  # every PDQ match is weaker than this
    source = _source(web, agency, alice, _copy_of_obama(), capture_strong_matches=True)
    watched_source_poll(source_id=source.pk)
    finding = Finding.objects.get(source=FindingSource.MONITOR)
    assert _distance(finding) >= 0
    assert not Capture.objects.exists()
    data = AuditEvent.objects.get(action="watched_source.discovered").data
    assert (data["strong_match"], data["capture_requested"]) == (False, False)


def test_no_capture_for_a_strong_match_of_a_finding_recorded_before(
    web,  # noqa: F811
    agency,
    alice,
    artist,
    django_capture_on_commit_callbacks,
):
    _reference(agency, alice, artist, portrait("obama"), django_capture_on_commit_callbacks)
    make_finding(agency, "https://www.tiktok.com/@anon/video/777", actor=alice)
    source = _source(web, agency, alice, _copy_of_obama(), capture_strong_matches=True)
    watched_source_poll(source_id=source.pk)
    assert not Capture.objects.exists()  # staff's finding is left as it is


def test_the_switch_is_edited_and_shown_in_korean_too(client, agency, bob):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    fields = {
        "name": "Board",
        "kind": "feed",
        "url": "https://board.example/feed.xml",
        "interval_minutes": 60,
        "active": "on",
    }
    form = client.get(reverse("watched_source_create")).content.decode()
    assert "Capture strong matches" in form and "PDQ distance 10 or less" in form
    client.post(reverse("watched_source_create"), {**fields, "capture_strong_matches": "on"})
    source = WatchedSource.objects.get()
    assert source.capture_strong_matches
    page = client.get(reverse("watched_source_detail", args=[source.pk])).content.decode()
    assert "PDQ distance 10 or less" in page
    korean = client.get(
        reverse("watched_source_detail", args=[source.pk]), HTTP_ACCEPT_LANGUAGE="ko"
    ).content.decode()
    assert "강한 일치 캡처" in korean
    client.post(reverse("watched_source_update", args=[source.pk]), fields)
    source.refresh_from_db()
    assert not source.capture_strong_matches
    page = client.get(reverse("watched_source_detail", args=[source.pk])).content.decode()
    assert "PDQ distance 10 or less" not in page


@pytest.mark.parametrize(("trust", "captured"), [("high", True), ("low", False)])
def test_a_partner_match_asks_for_a_capture_unless_the_partner_is_trusted_little(
    web,  # noqa: F811
    settings,
    agency,
    alice,
    trust,
    captured,
):
    settings.EXCHANGE_ALLOWED_PORTS = [443]
    partner_signal(
        agency,
        alice,
        trust=trust,
        pdq=[pdq_analyse(jpeg_bytes(portrait("obama"), 92)).hex],
        md5="e" * 32,
    )
    source = _source(web, agency, alice, _copy_of_obama(), capture_strong_matches=True)
    watched_source_poll(source_id=source.pk)
    finding = Finding.objects.get(source=FindingSource.MONITOR)
    # Recorded with its reason either way; only the capture depends on the trust level.
    assert finding.discoveries.get().reason.startswith("partner 'Nebula Music' signal")
    assert _distance_in(finding) <= 10
    assert Capture.objects.filter(finding=finding).exists() is captured
    data = AuditEvent.objects.get(action="watched_source.discovered").data
    assert (data["strong_match"], data["capture_requested"]) == (captured, captured)


def _distance_in(finding: Finding) -> int:
    match = re.search(r"PDQ distance (\d+)", finding.discoveries.get().reason)
    assert match is not None
    return int(match.group(1))
