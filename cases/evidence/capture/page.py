"""The page as served: whether a body is HTML, its text in the right charset, and the
text a reader sees (what removal signatures are matched against)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

HTML_TYPES = ("text/html", "application/xhtml+xml")

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)


def decode_html(body: bytes, content_type: str) -> str:
    """The page as text: the charset from Content-Type, else a <meta charset>, else UTF-8
    (undecodable bytes replaced: this text is only read, the bytes are what is stored)."""
    candidates = []
    match = re.search(r"charset=([^;\s]+)", content_type, re.IGNORECASE)
    if match:
        candidates.append(match.group(1).strip("\"'"))
    meta = _CHARSET.search(body[:4096])
    if meta:
        candidates.append(meta.group(1).decode("ascii", "replace"))
    for charset in [*candidates, "utf-8"]:
        try:
            return body.decode(charset, errors="replace")
        except LookupError:
            continue
    return body.decode("utf-8", errors="replace")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "noscript", "template"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript", "template") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text outside scripts, styles and templates, whitespace collapsed."""
    parser = _TextParser()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        pass
    return re.sub(r"\s+", " ", " ".join(parser.parts)).strip()


def is_html(content_type: str, body: bytes) -> bool:
    if content_type.split(";")[0].strip().lower() in HTML_TYPES:
        return True
    head = body[:512].lstrip().lower()
    return not content_type and head.startswith((b"<!doctype html", b"<html"))
