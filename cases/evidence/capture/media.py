"""The main media a page embeds: which URLs to collect, and whether a body is really media.

The standard library's HTML parser is enough for this (it tolerates broken markup and
never runs anything); no extra dependency. Candidates come in order of how likely they
are to be "the" content of the page: Open Graph / Twitter card video and image first
(what platforms declare as the post's media), then <video>/<audio> sources, then <img>
by declared size, largest first. Tiny declared images (icons, tracking pixels) are
skipped. The pipeline fetches the first few through the safe fetcher, within caps.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from cases.kernel.media import media_suffix

MIN_DECLARED_SIDE = 48  # px; smaller declared images are icons or trackers

_META_VIDEO = ("og:video:secure_url", "og:video:url", "og:video", "twitter:player:stream")
_META_IMAGE = (
    "og:image:secure_url",
    "og:image:url",
    "og:image",
    "twitter:image",
    "twitter:image:src",
)


@dataclass(frozen=True)
class MediaCandidate:
    url: str  # absolute
    source: str  # where it was found: "og:video", "video", "img", ...
    declared_area: int = 0


def _int(value: str | None) -> int:
    try:
        return int((value or "").strip().removesuffix("px"))
    except ValueError:
        return 0


def _largest_from_srcset(srcset: str) -> str:
    """The widest candidate of a srcset ("a.jpg 480w, b.jpg 1080w" -> b.jpg)."""
    best, best_score = "", -1.0
    for item in srcset.split(","):
        parts = item.strip().split()
        if not parts:
            continue
        score = 0.0
        if len(parts) > 1:
            descriptor = parts[1].lower()
            try:
                score = float(descriptor[:-1]) if descriptor[-1] in "wx" else 0.0
            except (ValueError, IndexError):
                score = 0.0
        if score > best_score:
            best, best_score = parts[0], score
    return best


class _MediaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base = ""
        self.meta: list[tuple[str, str]] = []  # (property, url)
        self.av: list[tuple[str, str]] = []  # (tag, url)
        self.images: list[tuple[str, int]] = []  # (url, declared area)
        self.in_media = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name.lower(): (value or "") for name, value in attrs}
        if tag == "base" and a.get("href") and not self.base:
            self.base = a["href"].strip()
        elif tag == "meta":
            key = (a.get("property") or a.get("name") or "").strip().lower()
            if key in _META_VIDEO or key in _META_IMAGE:
                content = a.get("content", "").strip()
                if content:
                    self.meta.append((key, content))
        elif tag in ("video", "audio"):
            self.in_media += 1
            if a.get("src"):
                self.av.append((tag, a["src"].strip()))
        elif tag == "source" and self.in_media and a.get("src"):
            self.av.append(("source", a["src"].strip()))
        elif tag == "img":
            url = _largest_from_srcset(a.get("srcset", "")) or a.get("src", "").strip()
            width, height = _int(a.get("width")), _int(a.get("height"))
            declared = bool(width or height)
            if url and not (declared and min(width or height, height or width) < MIN_DECLARED_SIDE):
                self.images.append((url, width * height))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("video", "audio") and self.in_media:
            self.in_media -= 1


def _join(base: str, raw: str) -> str:
    """urljoin, or "" for a URL the page wrote that cannot be parsed (urljoin raises)."""
    try:
        return urljoin(base, raw)
    except ValueError:
        return ""


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme
    except ValueError:
        return ""


def media_candidates(html: str, page_url: str, *, limit: int) -> list[MediaCandidate]:
    """Up to `limit` distinct http(s) media URLs found in `html`, most important first."""
    parser = _MediaParser()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        pass  # a page the parser chokes on still gives what it found so far
    base = _join(page_url, parser.base) if parser.base else page_url
    ordered: list[tuple[str, str, int]] = []
    video_meta = [(k, u) for k, u in parser.meta if k in _META_VIDEO]
    image_meta = [(k, u) for k, u in parser.meta if k in _META_IMAGE]
    ordered += [(u, k, 0) for k, u in video_meta]
    ordered += [(u, t, 0) for t, u in parser.av]
    ordered += [(u, k, 0) for k, u in image_meta]
    # Largest declared first; undeclared keep document order after the declared ones.
    images = sorted(enumerate(parser.images), key=lambda item: (-item[1][1], item[0]))
    ordered += [(u, "img", area) for _index, (u, area) in images]
    seen: set[str] = set()
    out: list[MediaCandidate] = []
    for raw, source, area in ordered:
        url = _join(base or page_url, raw).split("#", 1)[0]
        if not url or _scheme(url) not in ("http", "https") or url in seen:
            continue  # data:, blob:, javascript:, unparseable ("http://[::1/") are not fetched
        seen.add(url)
        out.append(MediaCandidate(url=url, source=source, declared_area=area))
        if len(out) >= limit:
            break
    return out


def sniff_media_type(data: bytes) -> str:
    """The media type by magic bytes, or "" when the body is not an image or video we keep
    (an HTML error page served at an image URL is not media)."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "image/heic"
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"OggS"):
        return "video/ogg"
    return ""


def media_file_name(url: str, media_type: str) -> str:
    """A readable original name: the URL's last path segment, with the sniffed extension."""
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1][:100] or "media"
    extension = media_suffix(media_type)
    if extension and not name.lower().endswith(extension):
        name = f"{name.rsplit('.', 1)[0] if '.' in name else name}{extension}"
    return name
