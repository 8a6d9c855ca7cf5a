"""Re-upload matching on real evidence: links to earlier findings, suggests their cases,
names the artist and the work from reference media, and never crosses agencies."""

from __future__ import annotations

import datetime

import pytest

from cases.evidence.models import EvidenceKind
from cases.kernel.models import AuditEvent
from cases.legal.services.legal_cases import case_create, case_link_findings
from cases.matching.models import EvidenceMatch, PdqFingerprint, ReferenceMedia
from cases.matching.selectors import evidence_matches_for, finding_matches
from cases.matching.services.fingerprints import evidence_compute_pdq, evidence_record_video_frames
from cases.matching.services.index import matching_index_for
from cases.matching.services.reference_media import ReferenceMediaError, reference_media_add
from tests.factories import ArtistFactory, make_finding
from tests.matching.conftest import store_image
from tests.matching.images import (
    crop_fraction,
    jpeg_bytes,
    mirrored,
    png_bytes,
    portrait,
    resized,
    scene,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def obama():
    return portrait("obama")


@pytest.fixture
def second_finding(agency, bob):
    return make_finding(agency, "https://x.com/fakes/status/1234567", actor=bob)


def _audit(agency, action):
    return list(AuditEvent.objects.filter(agency=agency, action=action).order_by("seq"))


def test_image_evidence_gets_its_pdq_hash_and_fingerprint(agency, finding, bob, obama):
    evidence = store_image(agency, obama, finding=finding, actor=bob)
    assert len(evidence.pdq_hash) == 64
    assert evidence.pdq_quality is not None and evidence.pdq_quality >= 50
    fingerprint = PdqFingerprint.objects.get(evidence=evidence)
    # The whole picture, ten standard crops, and the picture without the plain dark
    # background at its sides (the trimmed variant, last).
    assert fingerprint.count == 12
    assert bytes(fingerprint.hashes)[:32].hex() == evidence.pdq_hash
    assert bytes(fingerprint.hashes)[-32:].hex() == evidence.pdq_hash_trimmed != ""


def test_a_captioned_reupload_matches_the_original_and_the_reverse(
    agency, finding, second_finding, bob
):
    from tests.matching.edits import caption_bar, letterbox

    original = scene(30)
    first = store_image(agency, original, finding=finding, actor=bob)
    assert first.pdq_hash_trimmed == ""
    captioned = store_image(
        agency, caption_bar(original, where="top"), finding=second_finding, actor=bob
    )
    assert captioned.pdq_hash_trimmed != ""
    assert [m.evidence for m in evidence_matches_for(evidence=captioned)] == [first]
    # The other order: the letterboxed copy was stored first, the original comes later.
    boxed = store_image(agency, letterbox(scene(31)), finding=finding, actor=bob)
    later = store_image(agency, scene(31), finding=second_finding, actor=bob)
    assert [m.evidence for m in evidence_matches_for(evidence=later)] == [boxed]


def test_a_cropped_reencoded_reupload_links_to_the_earlier_finding(
    agency, finding, second_finding, bob, obama
):
    original = store_image(agency, obama, finding=finding, actor=bob)
    copy = crop_fraction(resized(obama, 0.5), 0.0, 0.0, 0.05, 0.05)
    reupload = store_image(agency, jpeg_bytes(copy, 60), finding=second_finding, actor=bob)

    pair = EvidenceMatch.objects.get()
    assert (pair.evidence_id, pair.matched_evidence_id) == (reupload.pk, original.pk)
    assert pair.distance <= 31
    [match] = evidence_matches_for(evidence=reupload)
    assert match.evidence == original and match.findings == (finding,)
    # Seen from the other side too.
    assert [m.evidence for m in evidence_matches_for(evidence=original)] == [reupload]
    [event] = _audit(agency, "evidence.matched")
    assert event.object_id == str(reupload.pk)
    assert event.data["matches"][0]["evidence"] == original.pk
    assert event.data["matches"][0]["findings"] == [finding.pk]


def test_a_mirrored_reupload_matches(agency, finding, second_finding, bob, obama):
    original = store_image(agency, obama, finding=finding, actor=bob)
    reupload = store_image(agency, mirrored(obama), finding=second_finding, actor=bob)
    assert [m.evidence for m in evidence_matches_for(evidence=reupload)] == [original]


def test_an_unrelated_image_matches_nothing(agency, finding, second_finding, bob, obama):
    store_image(agency, obama, finding=finding, actor=bob)
    other = store_image(agency, portrait("biden"), finding=second_finding, actor=bob)
    store_image(agency, scene(3), finding=second_finding, actor=bob)
    assert evidence_matches_for(evidence=other) == []
    assert not EvidenceMatch.objects.exists()
    assert _audit(agency, "evidence.matched") == []


def test_matches_never_cross_agencies(agency, other_agency, finding, bob, mallory, obama):
    """Nebula holds the very same photo: Aurora's copy matches only Aurora's material."""
    nebula_finding = make_finding(other_agency, "https://x.com/nebula/status/1", actor=mallory)
    nebula_original = store_image(other_agency, obama, finding=nebula_finding, actor=mallory)
    aurora_copy = store_image(agency, resized(obama, 0.5), finding=finding, actor=bob)

    assert evidence_matches_for(evidence=aurora_copy) == []
    assert evidence_matches_for(evidence=nebula_original) == []
    assert not EvidenceMatch.objects.exists()
    assert finding_matches(finding=finding).matches == []
    # And Nebula's own re-upload still finds Nebula's original.
    nebula_copy = store_image(other_agency, jpeg_bytes(obama, 60), finding=nebula_finding)
    assert [m.evidence for m in evidence_matches_for(evidence=nebula_copy)] == [nebula_original]
    assert set(EvidenceMatch.objects.values_list("agency_id", flat=True)) == {other_agency.pk}


def test_a_match_suggests_the_case_of_the_earlier_finding(
    agency, finding, second_finding, alice, bob, obama
):
    case = case_create(agency=agency, actor=alice, title="Deepfake ring")
    case_link_findings(case=case, findings=[finding], actor=alice)
    store_image(agency, obama, finding=finding, actor=bob)
    store_image(agency, jpeg_bytes(obama, 60), finding=second_finding, actor=bob)

    panel = finding_matches(finding=second_finding)
    assert [m.cases for m in panel.matches] == [(case,)]
    assert panel.suggested_cases == [case]
    assert panel.related_findings == [finding]
    # The earlier finding is in the case already: nothing to suggest there.
    assert finding_matches(finding=finding).suggested_cases == []


def _add_reference(agency, alice, artist, image, **kwargs):
    return reference_media_add(
        agency=agency,
        artist=artist,
        title="Official MV 'Starlight' 2024",
        data=png_bytes(image),
        original_name="starlight-teaser.png",
        actor=alice,
        source_url="https://www.youtube.com/watch?v=official-starlight",
        published_on=datetime.date(2024, 3, 1),
        **kwargs,
    )


def test_a_reference_match_names_the_artist_and_the_work_and_links_the_artist(
    agency, second_finding, alice, bob, artist, obama, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reference = _add_reference(agency, alice, artist, obama)
    assert reference.evidence.kind == EvidenceKind.REFERENCE
    reference.evidence.refresh_from_db()
    assert reference.evidence.pdq_hash  # hashed by the task queued after commit
    assert list(second_finding.artists.all()) == []

    copy = mirrored(crop_fraction(obama, 0.025, 0.025, 0.025, 0.025))
    reupload = store_image(agency, jpeg_bytes(copy, 60), finding=second_finding, actor=bob)

    [match] = evidence_matches_for(evidence=reupload)
    assert match.is_reference
    assert match.artists == [artist]
    assert [r.title for r in match.references] == ["Official MV 'Starlight' 2024"]
    assert list(second_finding.artists.all()) == [artist]
    [linked] = _audit(agency, "finding.artists_linked")
    assert linked.object_id == str(second_finding.pk)
    assert linked.data["added"] == [artist.pk]
    assert linked.data["reference_media"] == [reference.pk]
    assert _audit(agency, "reference_media.added")[0].data["artist"] == artist.pk


def test_reference_media_added_later_links_the_artist_to_earlier_copies(
    agency, second_finding, alice, bob, artist, obama, django_capture_on_commit_callbacks
):
    store_image(agency, resized(obama, 0.5), finding=second_finding, actor=bob)
    with django_capture_on_commit_callbacks(execute=True):
        _add_reference(agency, alice, artist, obama)
    assert list(second_finding.artists.all()) == [artist]
    assert EvidenceMatch.objects.count() == 1


def test_the_same_file_as_reference_of_two_artists_names_both(
    agency, second_finding, alice, bob, artist, obama, django_capture_on_commit_callbacks
):
    partner = ArtistFactory(agency=agency, stage_name="Mina")
    with django_capture_on_commit_callbacks(execute=True):
        first = _add_reference(agency, alice, artist, obama)
        second = _add_reference(agency, alice, partner, obama)
    assert first.evidence_id == second.evidence_id
    reupload = store_image(agency, jpeg_bytes(obama, 60), finding=second_finding, actor=bob)
    [match] = evidence_matches_for(evidence=reupload)
    assert {a.stage_name for a in match.artists} == {"Yuna", "Mina"}
    assert set(second_finding.artists.all()) == {artist, partner}


def test_hashing_twice_records_nothing_new(agency, finding, second_finding, bob, obama):
    store_image(agency, obama, finding=finding, actor=bob)
    reupload = store_image(agency, jpeg_bytes(obama, 60), finding=second_finding, actor=bob)
    fingerprint_id = PdqFingerprint.objects.get(evidence=reupload).pk
    assert evidence_compute_pdq(evidence=reupload) == []
    assert EvidenceMatch.objects.count() == 1
    assert len(_audit(agency, "evidence.matched")) == 1
    assert PdqFingerprint.objects.get(evidence=reupload).pk == fingerprint_id


def test_plain_images_are_hashed_but_not_matched(agency, finding, second_finding, bob):
    from PIL import Image

    grey = store_image(agency, Image.new("RGB", (400, 300), (128, 128, 128)), finding=finding)
    other = store_image(
        agency, Image.new("RGB", (300, 300), (130, 130, 130)), finding=second_finding
    )
    assert grey.pdq_quality < 50 and other.pdq_quality < 50
    assert len(grey.pdq_hash) == 64
    assert not EvidenceMatch.objects.exists()
    assert finding_matches(finding=finding).low_quality == [grey]


def test_screenshots_and_non_images_are_not_hashed(agency, finding, bob, obama):
    screenshot = store_image(agency, obama, finding=finding, kind=EvidenceKind.SCREENSHOT)
    assert screenshot.pdq_hash == ""
    html = store_image(
        agency, b"<html><body>hi</body></html>", finding=finding, kind=EvidenceKind.HTML
    )
    assert html.pdq_hash == ""
    assert not PdqFingerprint.objects.exists()


def test_the_index_is_cached_until_a_fingerprint_is_added(agency, finding, bob, obama):
    store_image(agency, obama, finding=finding, actor=bob)
    first = matching_index_for(agency_id=agency.pk)
    assert matching_index_for(agency_id=agency.pk) is first
    assert len(first) == 12  # whole, ten crops, trimmed (the portrait has plain sides)
    store_image(agency, scene(1), finding=finding, actor=bob)
    second = matching_index_for(agency_id=agency.pk)
    assert second is not first and len(second) == 12 + 11  # a scene has no border


def test_a_video_keyframe_is_found_from_a_screenshot_of_it(
    agency, second_finding, alice, bob, artist
):
    from cases.evidence.services.evidence import evidence_ingest

    video, _ = evidence_ingest(
        agency=agency,
        data=b"\x00\x00\x00\x18ftypmp42 pretend video bytes",
        kind=EvidenceKind.REFERENCE,
        collected_by=alice,
        original_name="starlight.mp4",
        media_type="video/mp4",
    )
    ReferenceMedia.objects.create(
        agency=agency, artist=artist, evidence=video, title="Official MV 'Starlight' 2024"
    )
    frames = [scene(20), scene(21), scene(22)]
    evidence_record_video_frames(evidence=video, frames=[png_bytes(f) for f in frames])
    assert PdqFingerprint.objects.get(evidence=video).count == 3

    still = store_image(agency, resized(frames[1], 0.5), finding=second_finding, actor=bob)
    [match] = evidence_matches_for(evidence=still)
    assert match.evidence == video and match.artists == [artist]
    assert list(second_finding.artists.all()) == [artist]


# ----------------------------------------------------------------- reference media refusals


def test_reference_media_of_another_agencys_artist_is_refused(agency, other_agency, alice, obama):
    outsider_artist = ArtistFactory(agency=other_agency, stage_name="Nova")
    with pytest.raises(ReferenceMediaError, match="not on your agency's roster"):
        _add_reference(agency, alice, outsider_artist, obama)
    assert not ReferenceMedia.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": "  "}, "Name the official work"),
        ({"source_url": "javascript:alert(1)"}, "full http:// or https:// address"),
        ({"data": b"", "original_name": "empty.png"}, "The file is empty"),
        (
            {"data": b"<svg onload=alert(1)></svg>", "original_name": "a.svg"},
            "SVG images are not accepted",
        ),
        ({"data": b"%PDF-1.7\n%%EOF\n", "original_name": "a.pdf"}, "must be a photo or a video"),
    ],
)
def test_bad_reference_media_is_refused_with_a_clear_message(
    agency, alice, artist, obama, changes, message
):
    fields = {
        "agency": agency,
        "artist": artist,
        "title": "Official photo",
        "data": png_bytes(obama),
        "original_name": "official.png",
        "actor": alice,
        **changes,
    }
    with pytest.raises(ReferenceMediaError, match=message) as refused:
        reference_media_add(**fields)
    assert refused.value.message
    assert not ReferenceMedia.objects.exists()
    assert not AuditEvent.objects.filter(action="reference_media.added").exists()


def test_the_same_reference_twice_for_one_artist_is_refused(agency, alice, artist, obama):
    _add_reference(agency, alice, artist, obama)
    with pytest.raises(ReferenceMediaError, match="already reference media of Yuna"):
        _add_reference(agency, alice, artist, obama)
    assert ReferenceMedia.objects.count() == 1


# ----------------------------------------------------------------------- video keyframes


def _clip(scenes: list, seconds_each: int = 1, fps: int = 8) -> bytes:  # type: ignore[type-arg]
    av = pytest.importorskip("av", reason="PyAV comes with the detection extra")
    import io

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.bit_rate = 2_000_000
        for picture in scenes:
            frame = av.VideoFrame.from_image(picture.resize((320, 240)))
            for _ in range(seconds_each * fps):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def test_a_video_is_hashed_by_its_keyframes_and_a_still_of_it_matches(
    agency, finding, second_finding, bob
):
    from cases.evidence.services.evidence import evidence_ingest
    from cases.matching.services.fingerprints import evidence_pdq_run

    scenes = [scene(40), scene(41), scene(42)]
    video, _ = evidence_ingest(
        agency=agency, data=_clip(scenes), kind=EvidenceKind.UPLOAD, collected_by=bob,
        finding=finding, original_name="clip.mp4", media_type="video/mp4",
    )  # fmt: skip
    evidence_pdq_run(evidence_id=video.pk)
    fingerprint = PdqFingerprint.objects.get(evidence=video)
    assert fingerprint.count >= 3

    still = store_image(agency, resized(scenes[2], 0.5), finding=second_finding, actor=bob)
    assert [match.evidence for match in evidence_matches_for(evidence=still)] == [video]


def test_a_letterboxed_video_frame_matches_a_still_without_the_bars(
    agency, finding, second_finding, bob
):
    from cases.evidence.services.evidence import evidence_ingest
    from tests.matching.edits import letterbox

    picture = scene(43)
    video, _ = evidence_ingest(
        agency=agency, data=b"\x00\x00\x00\x18ftypmp42 pretend boxed video", kind=EvidenceKind.UPLOAD,
        collected_by=bob, finding=finding, original_name="boxed.mp4", media_type="video/mp4",
    )  # fmt: skip
    evidence_record_video_frames(evidence=video, frames=[letterbox(picture), scene(44)])
    video.refresh_from_db()
    assert video.pdq_hash_trimmed != ""
    still = store_image(agency, picture, finding=second_finding, actor=bob)
    assert [match.evidence for match in evidence_matches_for(evidence=still)] == [video]


def test_an_unreadable_video_is_left_unhashed(agency, finding, bob):
    from cases.evidence.services.evidence import evidence_ingest
    from cases.matching.services.fingerprints import evidence_pdq_run

    pytest.importorskip("av", reason="PyAV comes with the detection extra")
    broken, _ = evidence_ingest(
        agency=agency, data=b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, kind=EvidenceKind.UPLOAD,
        collected_by=bob, finding=finding, original_name="broken.mp4", media_type="video/mp4",
    )  # fmt: skip
    assert evidence_pdq_run(evidence_id=broken.pk) is None
    assert not PdqFingerprint.objects.filter(evidence=broken).exists()


def test_pdq_rehash_gives_items_hashed_before_trimming_their_trimmed_hash(
    agency, finding, second_finding, bob
):
    from io import StringIO

    from django.core.management import call_command

    from tests.matching.edits import letterbox

    boxed = store_image(agency, letterbox(scene(60)), finding=finding, actor=bob)
    # As an item hashed before issue 9 was stored: no trimmed hash anywhere.
    fingerprint = PdqFingerprint.objects.get(evidence=boxed)
    old = bytes(fingerprint.hashes)[:-32]
    fingerprint.delete()
    PdqFingerprint.objects.create(
        agency=agency, evidence=boxed, source="image", hashes=old, count=len(old) // 32, quality=90
    )
    type(boxed).objects.filter(pk=boxed.pk).update(pdq_hash_trimmed="")
    plain = store_image(agency, scene(60), finding=second_finding, actor=bob)
    assert evidence_matches_for(evidence=plain) == []

    out = StringIO()
    call_command("pdq_rehash", stdout=out)
    boxed.refresh_from_db()
    assert boxed.pdq_hash_trimmed != ""
    assert [m.evidence for m in evidence_matches_for(evidence=plain)] == [boxed]
    assert "2 items re-hashed, 1 new matches" in out.getvalue()
