"""Reading an import's rows: the upload's bytes as text, and the text as rows (one URL per
line, or CSV with a header), each with its line number, raw line and any error, for
services.imports to record."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from cases.intake.import_reasons import MALFORMED, NO_URL
from cases.intake.services.import_files import ImportRejected

HEADER_NAMES = {"url", "link", "urls", "주소", "링크"}


@dataclass(frozen=True, slots=True)
class ImportRow:
    number: int  # the line number in the file, as a spreadsheet shows it
    url: str  # the raw value of the URL cell (or the line)
    artists: tuple[str, ...]
    error: str = ""  # untranslated message id; rendered with error_params at view time
    column: int | None = None  # the URL's column (1-based) in a CSV, None for plain lines
    error_params: dict[str, Any] | None = None
    raw: str = ""  # the whole line, as in the file (what a retry of failed rows imports)
    artist_column: int | None = None  # the artist column (1-based), None without one


def decode_upload(data: bytes) -> str:
    """Bytes of an upload as text: UTF-8 (with or without BOM), else CP949 (Korean Excel)."""
    if len(data) > settings.IMPORT_MAX_BYTES:
        raise ImportRejected(
            _("The file is %(size)s MB; the limit is %(limit)s MB. Split it into smaller files.")
            % {"size": round(len(data) / 1e6, 1), "limit": round(settings.IMPORT_MAX_BYTES / 1e6)}
        )
    if b"\x00" in data:
        raise ImportRejected(_("This is not a CSV or text file (it contains binary data)."))
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRejected(_("The file is not UTF-8 or CP949 text."))


def parse_rows(text: str) -> list[ImportRow]:
    """The rows of a whole text (see iter_rows)."""
    return list(iter_rows(text.splitlines()))


def iter_rows(lines: Iterable[str]) -> Iterator[ImportRow]:
    """One URL per line, optionally CSV with a header (`url`, and `artist` with stage names
    separated by `|`). Blank lines are skipped; a malformed line becomes an invalid row.
    `lines` as `str.splitlines()` gives them; read one at a time (a stored upload streams)."""
    lines = iter(lines)
    first = next(lines, None)
    url_col, artist_col, start = 0, None, 0
    if first is not None and ("," in first or first.strip().lower() in HEADER_NAMES):
        header = [cell.strip().lower() for cell in next(csv.reader([first]))]
        if any(h in HEADER_NAMES for h in header):
            url_col = next(i for i, h in enumerate(header) if h in HEADER_NAMES)
            artist_col = next(
                (i for i, h in enumerate(header) if h in {"artist", "artists", "아티스트"}), None
            )
            start = 1
    column = url_col + 1 if start else None
    artist_column = artist_col + 1 if artist_col is not None else None
    if first is None:
        return
    if not start:
        lines = _chain_first(first, lines)
    for index, line in enumerate(lines, start=start):
        if not line.strip():
            continue
        number = index + 1
        if '"' not in line and "," not in line:
            yield ImportRow(number, line.strip(), (), column=column, raw=line)
            continue
        try:
            cells = next(csv.reader([line], strict=True))
        except csv.Error as exc:
            error = {"error": str(exc)}
            yield ImportRow(number, line[:300], (), MALFORMED, column, error, raw=line)
            continue
        if len(cells) <= url_col:
            col = {"col": url_col + 1}
            yield ImportRow(number, line[:300], (), NO_URL, column, col, raw=line)
            continue
        artists: tuple[str, ...] = ()
        if artist_col is not None and artist_col < len(cells):
            artists = tuple(a.strip() for a in cells[artist_col].split("|") if a.strip())
        yield ImportRow(
            number,
            cells[url_col].strip(),
            artists,
            column=column,
            raw=line,
            artist_column=artist_column,
        )


def _chain_first(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
