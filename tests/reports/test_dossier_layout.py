"""The dossier's print layout stays cheap for WeasyPrint (docs/benchmarks.md, dossier): fixed
table layouts with declared columns, no nested tables, none of the costly CSS features, and
label-value lines of one label box each. The content tests (test_dossier.py and the others in
this folder) prove nothing was lost; the last test here checks the label-value lines' own."""

from __future__ import annotations

import io
import re
from pathlib import Path

from django.core.files.storage import default_storage
from pypdf import PdfReader

from cases.evidence.models import Evidence
from reports.context import dossier_context_build
from reports.models import DossierStatus
from reports.render import dossier_html
from reports.services import dossier_request

CSS = Path(__file__).resolve().parents[2] / "reports" / "static" / "reports" / "dossier.css"
COSTLY = ("box-shadow", "border-radius", "opacity", "@font-face", "display: flex", "display: grid")


def declarations(selector: str) -> dict[str, str]:
    """The declarations of the stylesheet's rule for exactly `selector`."""
    css = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    for prelude, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        if prelude.strip() == selector:
            pairs = (item.split(":", 1) for item in body.split(";") if ":" in item)
            return {name.strip(): value.strip() for name, value in pairs}
    raise AssertionError(f"no rule for {selector!r} in dossier.css")


def html_of(case) -> str:  # type: ignore[no-untyped-def]
    return dossier_html(
        dossier_context_build(case),
        kind="dossier",
        title="Evidence dossier",
        identifier="AG-TEST",
        generated_by="bob",
        language="en",
    )


def test_every_table_lays_out_fixed_and_nothing_costly_is_used() -> None:
    assert declarations("table")["table-layout"] == "fixed"
    css = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    assert not [name for name in COSTLY if name in css]


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
    with django_capture_on_commit_callbacks(execute=True):
        dossier = dossier_request(case=small_case, kind="dossier", actor=bob)
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.DONE, dossier.error
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    flat = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
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
