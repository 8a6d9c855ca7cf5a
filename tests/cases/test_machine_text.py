"""Machine text shown as words (cases.templatetags.labels): timings, visit offsets, detection
steps and custody reasons, in English and Korean."""

from __future__ import annotations

from django.utils import translation

from cases.templatetags.labels import custody_reason, detection_step, into_visit, timings_text


def test_timings_read_as_a_sentence_in_seconds() -> None:
    timings = {"decode": 31.0, "faces": 812.4, "total": 1234.5}
    with translation.override("en"):
        assert timings_text(timings) == "1.2 s in all (reading the file 0.03 s; faces 0.81 s)"
    with translation.override("ko"):
        text = timings_text(timings)
        assert text.startswith("총 1.2초") and "ms" not in text and "decode" not in text


def test_a_visit_offset_reads_in_seconds() -> None:
    with translation.override("en"):
        assert into_visit(1534) == "1.5 s into the visit"
    with translation.override("ko"):
        assert into_visit(1534) == "방문 시작 후 1.5초"
    assert into_visit(None) == ""


def test_detection_steps_are_translated() -> None:
    with translation.override("ko"):
        assert detection_step("reading the file") == "파일을 읽는 중"
    assert detection_step("a step added later") == "a step added later"


def test_a_custody_reason_typed_by_a_person_is_kept_as_it_is() -> None:
    assert custody_reason("court request 2026-41") == "court request 2026-41"
    with translation.override("en"):
        assert custody_reason("kind=screenshot capture=7 blob=existing,verified") == (
            "Screenshot collected by capture #7. The same file was already stored; "
            "its stored copy was checked against its hash."
        )
