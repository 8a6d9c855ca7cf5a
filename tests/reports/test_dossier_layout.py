"""The dossier's print layout stays cheap for WeasyPrint (docs/benchmarks.md, dossier): fixed
table layouts with declared columns, no nested tables, none of the costly CSS features,
label-value lines of one inline label each, no dot leaders, break-all only on single tokens, and
no full garbage collections during the render. The content tests (test_dossier.py and the others
in this folder) prove nothing was lost; the PDF tests here check the label-value lines' own and
the contents page's page numbers."""

from __future__ import annotations

import gc
import io
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from pypdf import PdfReader

from cases.evidence.models import Evidence
from cases.kernel import gcpause
from cases.legal.models import Case
from reports import render
from reports.context import dossier_context_build
from reports.fetcher import LockedFetcher
from reports.models import DossierStatus
from reports.render import dossier_html, pdf_render
from reports.services import dossier_request
from tests.conftest import require_service

CSS = Path(__file__).resolve().parents[2] / "reports" / "static" / "reports" / "dossier.css"
# leader() lays its line out twice and draws every dot as a text box of its own (0.5 s of a
# 60-item dossier); inline-block labels cost a layout pass per line.
COSTLY = (
    "box-shadow", "border-radius", "opacity", "@font-face", "display: flex", "display: grid",
    "leader(", "display: inline-block",
)  # fmt: skip


def declarations(selector: str) -> dict[str, str]:
    """The declarations of the stylesheet's rule for exactly `selector`."""
    css = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    for prelude, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        if prelude.strip() == selector:
            pairs = (item.split(":", 1) for item in body.split(";") if ":" in item)
            return {name.strip(): value.strip() for name, value in pairs}
    raise AssertionError(f"no rule for {selector!r} in dossier.css")


def css_without_comments() -> str:
    return re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)


def pdf_pages(case: Case, bob: User, capture: Callable[..., Any]) -> list[str]:
    """The text of each page of the case's dossier, built as a user would request it."""
    with capture(execute=True):
        dossier = dossier_request(case=case, kind="dossier", actor=bob)
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.DONE, dossier.error
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return [page.extract_text() for page in reader.pages]


def pdf_layout_text(case: Case, bob: User, capture: Callable[..., Any]) -> str:
    """pdftotext -layout of the case's dossier: text beside text stays on one line."""
    require_service(shutil.which("pdftotext") is not None, "pdftotext (poppler-utils) not found")
    with capture(execute=True):
        dossier = dossier_request(case=case, kind="dossier", actor=bob)
    dossier.refresh_from_db()
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        data = handle.read()
    result = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True, timeout=60
    )
    return result.stdout.decode()


def html_of(case, kind: str = "dossier", title: str = "Evidence dossier") -> str:  # type: ignore[no-untyped-def]
    return dossier_html(
        dossier_context_build(case),
        kind=kind,
        title=title,
        identifier="AG-TEST",
        generated_by="bob",
        language="en",
    )


def test_every_table_lays_out_fixed_and_nothing_costly_is_used() -> None:
    assert declarations("table")["table-layout"] == "fixed"
    assert not [name for name in COSTLY if name in css_without_comments()]


def test_contents_page_numbers_sit_at_the_right_without_a_leader_a_float_or_markers() -> None:
    """The contents page is laid out three times: a float per entry made every later line
    measure itself against the floats, a ::marker box per entry cost 0.2 s of a 60-item
    dossier. The numbers are positioned absolutely, the entry numbers written as text."""
    after = declarations(".toc a::after")
    assert after["content"] == "target-counter(attr(href), page)"
    assert after["position"] == "absolute"
    assert after["right"] == "0"
    assert "float" not in after
    assert declarations(".toc li")["position"] == "relative"
    assert declarations(".toc ol")["list-style"] == "none"


def test_contents_entries_keep_the_numbers_the_list_markers_gave(
    small_case: Case, bob: User, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """The same text as with list markers: each entry's number, then its title and page."""
    pages = pdf_pages(small_case, bob, django_capture_on_commit_callbacks)
    lines = [" ".join(line.split()) for line in pages[1].splitlines()]
    chapters = (
        "Summary", "Findings", "Capture attempts", "Evidence items", "Notices and responses",
        "Case timeline", "Completeness check", "Verification appendix",
    )  # fmt: skip
    for number, title in enumerate(chapters, start=1):
        assert [line for line in lines if line.startswith(f"{number}. {title}")], title
    entries = [line for line in lines if re.match(r"\d+\. \d+\. ", line)]
    assert [entry.split(".")[0] for entry in entries] == [str(n) for n in range(1, 7)]
    assert [entry.split(". ")[1] for entry in entries] == [str(n) for n in range(1, 7)]
    html = html_of(small_case, kind="annex", title="Annex")
    toc = re.search(r'<nav class="toc">.*?</nav>', html, flags=re.S)
    assert toc is not None
    assert '<ol><li>1. <a href="#evidence">' in toc.group(0)


def test_an_items_lines_stay_beside_its_preview(
    small_case: Case, bob: User, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """The label-value block is a formatting context of its own (its lines then skip the
    float checks) and narrow enough to stay beside the floated preview, not below it."""
    assert declarations(".item-body .kv")["display"] == "flow-root"
    layout = pdf_layout_text(small_case, bob, django_capture_on_commit_callbacks)
    captions = 0
    after_heading = False
    for line in (line.strip() for line in layout.splitlines()):
        if re.match(r"\d+\. .* · evidence #\d+", line):
            after_heading = True  # an item's heading; its first label-value line is next
        elif line.startswith("URL "):
            after_heading = False
        elif line.endswith(("Blurred preview", "No image preview")):
            captions += 1
            # Below the heading, the caption comes after the first line of its item's values.
            assert not after_heading, line
    assert captions == 6


def test_break_all_is_kept_for_single_tokens_and_prose_lines_break_between_words(
    small_case: Case,
) -> None:
    """word-break: break-all splits words anywhere and is slow in WeasyPrint: class "url"
    marks only elements that hold one token; lines of prose wrap at spaces and break a long
    token only where it does not fit."""
    lines = declarations(".lines > div")
    assert lines["overflow-wrap"] == "anywhere"
    assert "word-break" not in lines
    html = html_of(small_case)
    urls = re.findall(r'<(?:span|div|td) class="url">(.*?)</(?:span|div|td)>', html)
    assert len(urls) > 6
    assert not [text for text in urls if " " in text.strip()]


def test_contents_page_gives_the_page_each_chapter_starts_on(
    small_case: Case, bob: User, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    pages = pdf_pages(small_case, bob, django_capture_on_commit_callbacks)
    contents = pages[1]
    assert "Contents" in contents
    # A page number ends its line, on the entry's line or (floated) on a line of its own.
    numbers = set(re.findall(r"(\d+)[ \t]*$", contents, flags=re.M))
    chapters = ("Summary", "Findings", "Capture attempts", "Evidence items", "Case timeline")
    for title in chapters:
        start = next(
            number
            for number, text in enumerate(pages[2:], start=3)
            if title in (line.strip() for line in text.splitlines())
        )
        assert str(start) in numbers, (title, start, sorted(numbers))


def test_no_garbage_collection_runs_during_the_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """The box tree of a big dossier made CPython walk the heap again and again during a
    render; the collector is back afterwards, also when the render fails, and stays off
    afterwards where it was off before (cases.kernel.gcpause, in a single-threaded worker)."""
    monkeypatch.setattr(gcpause.threading, "active_count", lambda: 1)
    seen: list[bool] = []

    class Document:
        def __init__(self, **kwargs: object) -> None:
            pass

        def write_pdf(self) -> bytes:
            seen.append(gc.isenabled())
            raise RuntimeError("render failed")

    monkeypatch.setattr(render, "HTML", Document)
    fetcher = LockedFetcher(previews=lambda evidence_id: None, evidence_ids=set())
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        pdf_render("<p>x</p>", fetcher=fetcher)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(RuntimeError):
            pdf_render("<p>x</p>", fetcher=fetcher)
        assert not gc.isenabled()  # not switched on by the render
    finally:
        gc.enable()


def test_tables_declare_their_columns_and_never_nest(small_case) -> None:  # type: ignore[no-untyped-def]
    html = html_of(small_case)
    tables = re.findall(r"<table\b.*?</table>", html, flags=re.S)
    assert len(tables) >= 3
    for table in tables:
        assert "<table" not in table[1:], "a table inside a table"
        if 'class="grid' in table:
            assert "<colgroup>" in table  # fixed layout takes the widths from the first row


def test_a_label_value_line_is_one_label_box_and_the_text(small_case) -> None:  # type: ignore[no-untyped-def]
    """A value wrapped in a span of its own costs an inline box per line and draws an extra
    text run for the space between; values carry a span only for a class that styles them."""
    html = html_of(small_case)
    lines = re.findall(r'<div><span class="k">.*?</div>', html)
    assert len(lines) > 50
    assert not [line for line in lines if '<span class="v' in line]
    assert not [line for line in lines if re.search(r"<span>|<span class=\"\">", line)]


def test_every_items_label_value_lines_reach_the_pdf(
    small_case, bob, django_capture_on_commit_callbacks
) -> None:
    pages = pdf_pages(small_case, bob, django_capture_on_commit_callbacks)
    flat = " ".join(" ".join(pages).split())
    items = list(Evidence.objects.filter(finding__cases=small_case))
    assert len(items) == 6
    for label in ("Collected (hashed)", "Collector", "Tool and version", "Resolved IP", "File"):
        assert flat.count(label) >= len(items), label
    for evidence in items:
        assert f"{evidence.media_type} · {evidence.size} B" in flat, evidence.pk
        assert evidence.original_name in flat, evidence.pk
    assert "Resolved IP 198.51.100.7" in flat
    assert "Requested URL https://www.youtube.com/watch?v=deepfake-1" in flat


def test_indentation_between_tags_is_dropped_and_user_line_breaks_kept(small_case) -> None:  # type: ignore[no-untyped-def]
    small_case.notes = "첫째 줄\n<b>둘째</b> 줄\n"
    small_case.save()
    html = html_of(small_case)
    assert not re.search(r">[ \t]*\n\s*<", html)
    assert "첫째 줄\n&lt;b&gt;둘째&lt;/b&gt; 줄\n</p>" in html
