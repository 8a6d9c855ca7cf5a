"""vPDQ video matching: two videos are compared frame-set to frame-set with HMA's thresholds
(a re-encoded, trimmed copy matches; an unrelated video, or one sharing a few seconds, does
not), a still still finds the video through its keyframes, and without the vpdq package
videos fall back to 8 keyframes, logged."""

from __future__ import annotations

import io
import logging
import sys

import numpy as np
import pytest
from django.urls import reverse
from django.utils import translation
from PIL import Image

from cases.evidence.models import Evidence, EvidenceKind
from cases.kernel.models import AuditEvent
from cases.matching.models import (
    EvidenceMatch,
    FingerprintSource,
    MatchMethod,
    PdqFingerprint,
    VpdqFingerprint,
)
from cases.matching.pdq.hashes import HASH_BYTES, hamming
from cases.matching.pdq.index import PdqIndex
from cases.matching.pdq.video import (
    VpdqFrame,
    vpdq_available,
    vpdq_compare,
    vpdq_match_in_index,
    vpdq_match_set,
)
from cases.matching.selectors import evidence_matches_for
from tests.conftest import IN_CI
from tests.factories import make_finding
from tests.matching.conftest import store_image
from tests.matching.images import resized, scene


@pytest.fixture
def needs_vpdq() -> None:
    """Skip without the vpdq package, with the reason; in CI (scripts/setup.sh builds it)
    fail instead, so these tests can never be skipped there."""
    if vpdq_available():
        return
    reason = (
        "the vpdq package is not installed (detection extra; scripts/setup.sh builds it "
        "against FFmpeg's -dev packages)"
    )
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def second_finding(agency, bob):  # type: ignore[no-untyped-def]
    return make_finding(agency, "https://x.com/fakes/status/7654321", actor=bob)


def _clip(
    scenes: list[Image.Image], *, size: tuple[int, int] = (320, 240), bit_rate: int = 2_000_000
) -> bytes:
    """An MP4 (MPEG-4 part 2, 8 fps) showing each picture for one second."""
    av = pytest.importorskip("av", reason="PyAV comes with the detection extra")
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height = size
        stream.pix_fmt, stream.bit_rate = "yuv420p", bit_rate
        for picture in scenes:
            frame = av.VideoFrame.from_image(picture.resize(size))
            for _ in range(8):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _video(agency, finding, actor, data: bytes, name: str) -> Evidence:  # type: ignore[no-untyped-def]
    from cases.evidence.services.evidence import evidence_ingest
    from cases.matching.services.fingerprints import evidence_pdq_run

    video, _created = evidence_ingest(
        agency=agency, data=data, kind=EvidenceKind.UPLOAD, collected_by=actor,
        finding=finding, original_name=name, media_type="video/mp4",
    )  # fmt: skip
    evidence_pdq_run(evidence_id=video.pk)
    return video


def _korean_catalog(settings) -> None:  # type: ignore[no-untyped-def]
    """Compile the Korean catalogue when its .mo is missing or older than the .po (setup does
    this too) and drop gettext's cache (as tests/cases/test_views_i18n.py does)."""
    from django.core.management import call_command
    from django.utils.translation import trans_real

    po = settings.BASE_DIR / "locale" / "ko" / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        call_command("compilemessages", locale=["ko"], ignore_patterns=[".venv"], verbosity=0)
        trans_real._translations = {}
        trans_real._default = None


def _mv() -> list[Image.Image]:
    return [scene(70 + i) for i in range(5)]


# --------------------------------------------------------------- the rule (no vpdq needed)


def _hashes(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, HASH_BYTES, dtype=np.uint8).tobytes().hex() for _ in range(count)]


def _flip(hex_hash: str, bits: int) -> str:
    value = int(hex_hash, 16) ^ ((1 << bits) - 1)
    return f"{value:064x}"


def _frames(hashes: list[str], quality: int = 100) -> list[VpdqFrame]:
    return [VpdqFrame(i, h, quality, float(i)) for i, h in enumerate(hashes)]


def test_frames_within_31_bits_match_and_32_do_not():
    [a] = _hashes(1, 1)
    near = vpdq_compare(vpdq_match_set(_frames([a])), vpdq_match_set(_frames([_flip(a, 31)])))
    assert near is not None and near.distance == 31 and near.is_match
    assert (
        vpdq_compare(vpdq_match_set(_frames([a])), vpdq_match_set(_frames([_flip(a, 32)]))) is None
    )


def test_a_pair_matches_when_80_percent_of_either_videos_frames_are_in_the_other():
    ours = _hashes(5, 2)
    others = _hashes(5, 3)
    four_of_five = vpdq_compare(
        vpdq_match_set(_frames(ours)), vpdq_match_set(_frames([*ours[:4], others[0]]))
    )
    assert four_of_five is not None
    assert (four_of_five.query_percent, four_of_five.compared_percent) == (80.0, 80.0)
    assert four_of_five.is_match
    three_of_five = vpdq_compare(
        vpdq_match_set(_frames(ours)), vpdq_match_set(_frames([*ours[:3], *others[:2]]))
    )
    assert three_of_five is not None and not three_of_five.is_match
    # A clip: all of its frames are in the longer video, a fifth of the video's in the clip.
    clip = vpdq_compare(vpdq_match_set(_frames(ours[:1])), vpdq_match_set(_frames(ours)))
    assert clip is not None and (clip.query_percent, clip.compared_percent) == (100.0, 20.0)
    assert clip.is_match


def test_frames_below_quality_50_and_repeated_hashes_are_not_compared():
    a, b = _hashes(2, 4)
    frames = [*_frames([a, a], quality=50), VpdqFrame(2, b, 49, 2.0)]
    assert [bytes(row).hex() for row in vpdq_match_set(frames)] == [a]


def test_the_frame_index_gives_the_same_numbers_as_comparing_every_pair():
    rng = np.random.default_rng(5)
    query_hashes = _hashes(12, 6)
    videos: dict[int, list[str]] = {}
    for video_id in range(1, 41):
        # Some of the query's frames (a few bits off), some of their own, in any order.
        shared = rng.choice(12, size=int(rng.integers(0, 13)), replace=False)
        own = _hashes(int(rng.integers(1, 8)), 100 + video_id)
        frames = [_flip(query_hashes[i], int(rng.integers(0, 40))) for i in shared] + own
        videos[video_id] = [frames[i] for i in rng.permutation(len(frames))]
    sets = {video_id: vpdq_match_set(_frames(frames)) for video_id, frames in videos.items()}
    ids = np.concatenate([np.full(len(m), video_id) for video_id, m in sets.items()])
    index = PdqIndex.build(ids, np.concatenate(list(sets.values())))
    query = vpdq_match_set(_frames(query_hashes))

    expected = {}
    for video_id, compared in sets.items():
        comparison = vpdq_compare(query, compared)
        if comparison is not None and comparison.is_match:
            expected[video_id] = comparison
    found = dict(vpdq_match_in_index(query, index))
    assert found == expected
    assert 3 < len(found) < 40  # some match, some do not
    some = next(iter(found))
    assert some not in dict(vpdq_match_in_index(query, index, exclude=some))


# ----------------------------------------------------------------- videos through vpdq


@pytest.mark.usefixtures("needs_vpdq")
def test_a_reencoded_trimmed_copy_matches_the_video_by_vpdq(agency, finding, second_finding, bob):
    scenes = _mv()
    original = _video(agency, finding, bob, _clip(scenes), "mv.mp4")
    fingerprint = VpdqFingerprint.objects.get(evidence=original)
    assert fingerprint.frame_count == 5  # one hash a second
    frame_number, pdq_hex, quality, timestamp = fingerprint.features[1]
    assert (frame_number, len(pdq_hex), timestamp) == (8, 64, 1.0) and quality >= 50

    # The first second cut off, smaller, at a fifth of the bit rate.
    copy = _video(
        agency,
        second_finding,
        bob,
        _clip(scenes[1:], size=(256, 192), bit_rate=400_000),
        "reupload.mp4",
    )
    [match] = evidence_matches_for(evidence=copy)
    assert match.evidence == original and match.is_vpdq
    assert (match.frames_percent, match.other_frames_percent) == (100.0, 80.0)
    assert match.distance <= 31
    row = EvidenceMatch.objects.get()
    assert row.method == MatchMethod.VPDQ
    assert (row.evidence_id, row.evidence_frames_percent, row.matched_frames_percent) == (
        copy.pk,
        100.0,
        80.0,
    )
    event = AuditEvent.objects.get(action="evidence.matched", object_id=str(copy.pk))
    [entry] = event.data["matches"]
    assert entry["method"] == "vpdq" and entry["evidence"] == original.pk
    assert (entry["frames_percent"], entry["other_frames_percent"]) == (100.0, 80.0)


@pytest.mark.usefixtures("needs_vpdq")
def test_a_clip_hashed_before_the_mv_matches_it_too(agency, finding, second_finding, bob):
    scenes = _mv()
    clip = _video(agency, second_finding, bob, _clip(scenes[2:4], bit_rate=400_000), "c.mp4")
    mv = _video(agency, finding, bob, _clip(scenes), "mv.mp4")
    # The MV asks: 2 of its 5 seconds are in the clip, all of the clip's in the MV.
    [match] = evidence_matches_for(evidence=mv)
    assert match.evidence == clip and match.is_vpdq
    assert (match.frames_percent, match.other_frames_percent) == (40.0, 100.0)


@pytest.mark.usefixtures("needs_vpdq")
def test_the_finding_page_calls_it_a_vpdq_match_with_the_percentages(
    client, settings, alice, agency, finding, second_finding, bob
):
    scenes = _mv()
    _video(agency, finding, bob, _clip(scenes), "mv.mp4")
    _video(agency, second_finding, bob, _clip(scenes[1:], bit_rate=400_000), "reupload.mp4")
    client.force_login(alice)
    html = client.get(reverse("finding_detail", args=[second_finding.pk])).content.decode()
    assert "data-vpdq-match" in html
    assert "vPDQ: 100% of our frames, 80% of theirs" in html
    _korean_catalog(settings)
    client.post(reverse("set_language"), {"language": "ko", "next": "/"})
    korean = client.get(reverse("finding_detail", args=[second_finding.pk])).content.decode()
    translation.activate(settings.LANGUAGE_CODE)
    assert "vPDQ: 우리 프레임의 100%, 상대 프레임의 80%" in korean


@pytest.mark.usefixtures("needs_vpdq")
def test_an_unrelated_video_does_not_match(agency, finding, second_finding, bob):
    _video(agency, finding, bob, _clip(_mv()), "mv.mp4")
    other = _video(agency, second_finding, bob, _clip([scene(90 + i) for i in range(5)]), "o.mp4")
    assert VpdqFingerprint.objects.filter(evidence=other).exists()
    assert evidence_matches_for(evidence=other) == []
    assert not EvidenceMatch.objects.exists()


@pytest.mark.usefixtures("needs_vpdq")
def test_videos_sharing_two_of_five_seconds_do_not_match_by_a_shared_keyframe(
    agency, finding, second_finding, bob
):
    scenes = _mv()
    original = _video(agency, finding, bob, _clip(scenes), "mv.mp4")
    mixed = _video(
        agency, second_finding, bob, _clip([*scenes[:2], scene(95), scene(96), scene(97)]), "m.mp4"
    )
    # Their keyframes in the image index share frames: single-frame PDQ would link them.
    stored = [bytes(PdqFingerprint.objects.get(evidence=e).hashes) for e in (original, mixed)]
    split = [[raw[i : i + HASH_BYTES] for i in range(0, len(raw), HASH_BYTES)] for raw in stored]
    assert min(hamming(a, b) for a in split[0] for b in split[1]) <= 31
    # vPDQ compares the frame sets whole: 40% each way is no match.
    assert evidence_matches_for(evidence=mixed) == []


@pytest.mark.usefixtures("needs_vpdq")
def test_a_still_of_a_vpdq_hashed_video_still_finds_it(agency, finding, second_finding, bob):
    scenes = _mv()
    video = _video(agency, finding, bob, _clip(scenes), "mv.mp4")
    assert VpdqFingerprint.objects.filter(evidence=video).exists()
    assert PdqFingerprint.objects.get(evidence=video).source == FingerprintSource.VIDEO
    still = store_image(agency, resized(scenes[2], 0.5), finding=second_finding, actor=bob)
    [match] = evidence_matches_for(evidence=still)
    assert match.evidence == video and not match.is_vpdq


# ------------------------------------------------------------------ without the package


def test_without_vpdq_videos_match_by_keyframes_and_the_fallback_is_logged(
    agency, finding, second_finding, bob, monkeypatch, caplog
):
    monkeypatch.setitem(sys.modules, "vpdq", None)  # `import vpdq` raises ImportError
    assert not vpdq_available()
    scenes = _mv()
    with caplog.at_level(logging.WARNING, logger="cases.matching.services.fingerprints"):
        original = _video(agency, finding, bob, _clip(scenes), "mv.mp4")
    assert "vpdq package is not installed" in caplog.text
    assert "matched by 8 keyframes instead" in caplog.text
    copy = _video(agency, second_finding, bob, _clip(scenes[1:], bit_rate=400_000), "r.mp4")
    assert not VpdqFingerprint.objects.exists()
    [match] = evidence_matches_for(evidence=copy)
    assert match.evidence == original and not match.is_vpdq
    assert EvidenceMatch.objects.get().method == MatchMethod.PDQ
