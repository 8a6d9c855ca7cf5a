"""Items out of a fetched document, one parser per kind of watched source.

Pure functions (no ORM, no network): bytes and the URL they came from in, `Item`s out, or a
`ParseError` whose message says what was wrong, which the source shows as its error. The
documents come from servers we do not control: XML is parsed with defusedxml (no DTDs, no
entities), feeds by feedparser from a stream (never from a string it could take for a file
name or URL), HTML by tinyhtml5 with cssselect2 selectors (both already installed by
WeasyPrint), JSON by the standard library. Every parser returns at most MAX_ITEMS items.
"""

from __future__ import annotations

import gzip
import html
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element

import cssselect2
import feedparser
import tinyhtml5
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError as XmlParseError
from defusedxml.ElementTree import fromstring as xml_fromstring

MAX_ITEMS = 500
MAX_MEDIA = 10
MAX_TEXT = 5000
# A gzipped sitemap (sitemap.xml.gz, no Content-Encoding) is inflated up to this size.
MAX_INFLATED = 50 * 1024 * 1024
HTML_NS = "{http://www.w3.org/1999/xhtml}"


class ParseError(ValueError):
    """The document is not what the source's kind expects; the message says why."""


@dataclass(frozen=True)
class Item:
    """One post of a source: its URL, its title and text (plain), and any media URLs."""

    url: str
    title: str = ""
    text: str = ""
    media: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class JsonPaths:
    """Where a JSON listing keeps its items ("data.children.*.data": keys, `*` for every
    element of a list) and which keys of an item hold its URL and its text."""

    items_path: str
    url_key: str
    text_keys: tuple[str, ...] = ()


def _http_url(base: str, href: str | None) -> str | None:
    """`href` made absolute against `base`, when it is an http(s) URL; None otherwise."""
    if not href or not href.strip():
        return None
    try:
        absolute = urljoin(base, href.strip())
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return None
    return absolute if scheme in ("http", "https") else None


def _media(base: str, candidates: Iterable[str | None]) -> tuple[str, ...]:
    urls = (_http_url(base, candidate) for candidate in candidates)
    return tuple(dict.fromkeys(u for u in urls if u))[:MAX_MEDIA]


def _clip(text: str) -> str:
    return " ".join(text.split())[:MAX_TEXT]


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(markup: str) -> str:
    """The text of an HTML fragment (a feed's summary), tags dropped."""
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    return _clip(html.unescape(" ".join(parser.parts)))


# ------------------------------------------------------------------------------- feeds


def parse_feed(body: bytes, base_url: str) -> list[Item]:
    """RSS 0.9x/1.0/2.0 and Atom, through feedparser."""
    # Summaries are reduced to text here (html_text) and never rendered as HTML, so
    # feedparser's sanitiser and its rewriting of URLs inside them are skipped: they were
    # two thirds of its time. Links are made absolute by _http_url.
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-location": base_url},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        why = parsed.get("bozo_exception") or "no feed elements"
        raise ParseError(f"Not an RSS or Atom feed ({why}).")
    items = []
    for entry in parsed.entries[:MAX_ITEMS]:
        url = _http_url(base_url, entry.get("link"))
        if url is None:
            continue
        media = [m.get("url") for m in entry.get("media_content", [])]
        media += [m.get("url") for m in entry.get("media_thumbnail", [])]
        media += [
            link.get("href") for link in entry.get("links", []) if link.get("rel") == "enclosure"
        ]
        summary = entry.get("summary", "") or ""
        items.append(
            Item(
                url=url,
                title=_clip(html_text(entry.get("title", "") or "")),
                text=html_text(summary),
                media=_media(base_url, media),
            )
        )
    return items


# ----------------------------------------------------------------------------- sitemaps


def _local(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _inflate(body: bytes) -> bytes:
    if not body.startswith(b"\x1f\x8b"):
        return body
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            data = stream.read(MAX_INFLATED + 1)
    except (OSError, EOFError) as exc:
        raise ParseError(f"A damaged gzipped sitemap ({exc}).") from exc
    if len(data) > MAX_INFLATED:
        raise ParseError(f"The gzipped sitemap inflates past {MAX_INFLATED} bytes.")
    return data


def _sitemap_root(body: bytes) -> Element:
    try:
        return xml_fromstring(_inflate(body), forbid_dtd=True)
    except (XmlParseError, DefusedXmlException) as exc:
        raise ParseError(f"Not well-formed XML ({exc}).") from exc


def parse_sitemap_or_index(body: bytes, base_url: str) -> tuple[list[Item], list[str]]:
    """(items, []) for a sitemap; ([], child sitemap URLs, newest <lastmod> first) for a
    sitemap index, which the poll follows one level down."""
    root = _sitemap_root(body)
    if _local(root) == "sitemapindex":
        children: list[tuple[str, str]] = []
        for entry in root:
            values = {_local(c): (c.text or "").strip() for c in entry}
            url = _http_url(base_url, values.get("loc"))
            if _local(entry) == "sitemap" and url:
                children.append((values.get("lastmod", ""), url))
        children.sort(key=lambda child: child[0], reverse=True)
        return [], list(dict.fromkeys(url for _lastmod, url in children))[:MAX_ITEMS]
    return _sitemap_items(root, base_url), []


def parse_sitemap(body: bytes, base_url: str) -> list[Item]:
    """A sitemap's <url> entries: <loc>, any news/image/video title, image and video URLs.
    A sitemap index is refused with a clear reason (parse_sitemap_or_index follows one)."""
    root = _sitemap_root(body)
    if _local(root) == "sitemapindex":
        raise ParseError(
            "This is a sitemap index, not a sitemap: add its child sitemaps as sources."
        )
    return _sitemap_items(root, base_url)


def _sitemap_items(root: Element, base_url: str) -> list[Item]:
    if _local(root) != "urlset":
        raise ParseError(f"Not a sitemap (the root element is <{_local(root)}>, not <urlset>).")
    items = []
    for entry in root:
        if _local(entry) != "url":
            continue
        page = next((c for c in entry if _local(c) == "loc"), None)
        loc = (page.text or "").strip() if page is not None else ""
        title = ""
        media: list[str | None] = []
        for child in entry.iter():
            name = _local(child)
            if child is entry or child is page:
                continue
            if name == "title" and not title:
                title = child.text or ""
            elif name in ("loc", "content_loc", "thumbnail_loc", "player_loc"):
                media.append(child.text)
        url = _http_url(base_url, loc)
        if url is None:
            continue
        items.append(Item(url=url, title=_clip(title), media=_media(base_url, media)))
        if len(items) >= MAX_ITEMS:
            break
    return items


# --------------------------------------------------------------------------------- HTML


def _html_root(body: bytes, charset: str | None) -> cssselect2.ElementWrapper:
    """The page's tree. Its encoding: a BOM, else the Content-Type's charset, else a
    <meta charset>, else UTF-8 (what pages without one are written in today)."""
    try:
        tree = tinyhtml5.parse(body, transport_encoding=charset, default_encoding="utf-8")
        return cssselect2.ElementWrapper.from_html_root(tree)
    except Exception as exc:  # tinyhtml5 recovers from almost anything; be safe anyway
        raise ParseError(f"The page cannot be parsed as HTML ({exc}).") from exc


def _text_of(element: Element) -> str:
    return _clip(" ".join(element.itertext()))


def _link_of(element: Element) -> Element | None:
    if element.tag == f"{HTML_NS}a" and element.get("href"):
        return element
    return next((a for a in element.iter(f"{HTML_NS}a") if a.get("href")), None)


def selector_compile(selector: str) -> list[Any]:
    """The compiled CSS selector, or ParseError with cssselect2's reason (forms use this)."""
    try:
        compiled = cssselect2.compile_selector_list(selector)
    except Exception as exc:  # cssselect2 raises SelectorError and tinycss2's errors
        raise ParseError(f"Not a CSS selector the parser understands ({exc}).") from exc
    if not compiled:
        raise ParseError("The CSS selector is empty.")
    return compiled


def parse_html_listing(
    body: bytes, base_url: str, selector: str, charset: str | None = None
) -> list[Item]:
    """Each element matching `selector` is one post: its link (the element itself when it
    is an <a href>, else the first link inside it), its text, and the images inside it."""
    selector_compile(selector)
    root = _html_root(body, charset)
    items: list[Item] = []
    seen: set[str] = set()
    for match in root.query_all(selector):
        element = match.etree_element
        link = _link_of(element)
        url = _http_url(base_url, link.get("href")) if link is not None else None
        if url is None or url in seen:
            continue
        seen.add(url)
        title = (link.get("title") or "") if link is not None else ""
        images = [img.get("src") for img in element.iter(f"{HTML_NS}img")]
        items.append(
            Item(
                url=url, title=_clip(title), text=_text_of(element), media=_media(base_url, images)
            )
        )
        if len(items) >= MAX_ITEMS:
            break
    return items


# ----------------------------------------------------------------------------- Telegram

_BACKGROUND_URL = re.compile(r"background-image\s*:\s*url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def _backgrounds(elements: Iterable[cssselect2.ElementWrapper]) -> Iterator[str]:
    for wrapper in elements:
        found = _BACKGROUND_URL.search(wrapper.etree_element.get("style") or "")
        if found:
            yield found.group(1)


def parse_telegram(body: bytes, base_url: str, charset: str | None = None) -> list[Item]:
    """A public channel's preview page (t.me/s/<name>): each message's link, text, photos
    and videos."""
    root = _html_root(body, charset)
    items = []
    for message in root.query_all(".tgme_widget_message[data-post]"):
        post = message.etree_element.get("data-post", "")
        date_link = next(iter(message.query_all("a.tgme_widget_message_date[href]")), None)
        href = date_link.etree_element.get("href") if date_link else None
        url = _http_url(base_url, href) or _http_url("https://t.me/", post)
        if url is None:
            continue
        texts = [_text_of(w.etree_element) for w in message.query_all(".tgme_widget_message_text")]
        media = list(_backgrounds(message.query_all(".tgme_widget_message_photo_wrap[style]")))
        media += list(_backgrounds(message.query_all(".tgme_widget_message_video_thumb[style]")))
        media += [w.etree_element.get("src") or "" for w in message.query_all("video[src]")]
        items.append(Item(url=url, text=_clip(" ".join(texts)), media=_media(base_url, media)))
        if len(items) >= MAX_ITEMS:
            break
    if not items and not root.query("html"):
        raise ParseError("Not an HTML page.")
    return items


# --------------------------------------------------------------------------------- JSON

_PATH_PART = re.compile(r"^(\*|[^.*]+)$")


def json_paths_check(paths: JsonPaths) -> None:
    """ParseError when the items path or the keys cannot be used (forms use this)."""
    if not paths.items_path.strip():
        raise ParseError("Say where the items are (for example data.children.*.data).")
    if not all(_PATH_PART.match(part) for part in paths.items_path.split(".")):
        raise ParseError("The items path is keys separated by dots, with * for every element.")
    if not paths.url_key.strip():
        raise ParseError("Say which key of an item holds its URL.")


def _walk(value: Any, parts: list[str]) -> Iterator[Any]:
    if not parts:
        yield value
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        children = value if isinstance(value, list) else []
        for child in children:
            yield from _walk(child, rest)
    elif isinstance(value, dict) and head in value:
        yield from _walk(value[head], rest)
    elif isinstance(value, list) and head.isdigit() and int(head) < len(value):
        yield from _walk(value[int(head)], rest)


def parse_json_listing(body: bytes, base_url: str, paths: JsonPaths) -> list[Item]:
    """The items at `paths.items_path`; an item without a usable URL is skipped."""
    json_paths_check(paths)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"Not JSON ({exc}).") from exc
    items = []
    for entry in _walk(document, paths.items_path.split(".")):
        if not isinstance(entry, dict):
            continue
        raw_url = entry.get(paths.url_key)
        url = _http_url(base_url, raw_url) if isinstance(raw_url, str) else None
        if url is None:
            continue
        texts = [entry.get(key) for key in paths.text_keys]
        title = next((t for t in texts if isinstance(t, str)), "")
        rest = " ".join(t for t in texts[1:] if isinstance(t, str))
        items.append(Item(url=url, title=_clip(title), text=_clip(rest)))
        if len(items) >= MAX_ITEMS:
            break
    return items
