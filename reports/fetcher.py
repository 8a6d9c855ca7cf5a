"""The only way WeasyPrint may load anything while it renders a dossier.

WeasyPrint fetches every URL a document names (stylesheets, images, fonts, `@import`,
`url()`, `<link rel=attachment>`). Our templates escape every user-supplied field, so such
names can only come from our own templates; this fetcher is the second wall in case one
slips through. It serves exactly:

- `agstatic:<path>` for the few static files listed in STATIC_ALLOWLIST (found through the
  staticfiles finders by that exact name, never by a path built from the URL);
- `evidence-preview:<id>` for evidence ids of the case being rendered, through a callable
  the renderer supplies (blurred previews for a dossier, unblurred ones only for an annex);
- small `data:` images (at most DATA_URI_MAX characters).

Everything else (http, https, file, ftp, other cases' evidence, `..`, unknown schemes)
raises FetchRefused: no network access and no file access, ever. Every call is recorded in
`calls` so tests can prove it."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from pathlib import Path

from django.contrib.staticfiles import finders

from cases.kernel.pdf import URLFetcher, URLFetcherResponse

STATIC_SCHEME = "agstatic:"
PREVIEW_SCHEME = "evidence-preview:"
STATIC_ALLOWLIST = {
    "reports/dossier.css": "text/css",
}
DATA_URI_MAX = 4096
DATA_URI_RE = re.compile(r"^data:(image/(?:png|jpeg|gif));base64,([A-Za-z0-9+/=]+)$")


class FetchRefused(ValueError):
    """A URL outside the allowlist. WeasyPrint logs it and leaves the resource out."""


PreviewSource = Callable[[int], bytes | None]


class LockedFetcher(URLFetcher):
    """WeasyPrint URL fetcher with an allowlist (see the module docstring)."""

    def __init__(self, *, previews: PreviewSource, evidence_ids: set[int]) -> None:
        # No protocol is allowed to the parent class: it must never open anything itself.
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)
        self._previews = previews
        self._evidence_ids = frozenset(evidence_ids)
        self.calls: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        self.calls.append(url)
        try:
            return self._serve(url)
        except FetchRefused:
            self.refused.append(url)
            raise

    def _serve(self, url: str) -> URLFetcherResponse:
        if url.startswith(STATIC_SCHEME):
            return self._static(url.removeprefix(STATIC_SCHEME))
        if url.startswith(PREVIEW_SCHEME):
            return self._preview(url.removeprefix(PREVIEW_SCHEME))
        if url.startswith("data:"):
            return self._data(url)
        raise FetchRefused(f"refused: {url[:200]}")

    def _static(self, name: str) -> URLFetcherResponse:
        media_type = STATIC_ALLOWLIST.get(name)
        if media_type is None:
            raise FetchRefused(f"static file not on the allowlist: {name[:200]}")
        found = finders.find(name)
        if not found:
            raise FetchRefused(f"static file missing: {name}")
        body = Path(found).read_bytes()
        return URLFetcherResponse(
            STATIC_SCHEME + name, body, {"Content-Type": f"{media_type}; charset=utf-8"}
        )

    def _preview(self, value: str) -> URLFetcherResponse:
        if not value.isdigit() or int(value) not in self._evidence_ids:
            raise FetchRefused(f"not an evidence item of this case: {value[:40]}")
        data = self._previews(int(value))
        if data is None:
            raise FetchRefused(f"no preview for evidence {value}")
        return URLFetcherResponse(PREVIEW_SCHEME + value, data, {"Content-Type": "image/jpeg"})

    def _data(self, url: str) -> URLFetcherResponse:
        match = DATA_URI_RE.match(url)
        if len(url) > DATA_URI_MAX or match is None:
            raise FetchRefused("data: URI refused (too large or not a small image)")
        try:
            body = base64.b64decode(match.group(2), validate=True)
        except binascii.Error as exc:
            raise FetchRefused("data: URI is not valid base64") from exc
        return URLFetcherResponse("data:", body, {"Content-Type": match.group(1)})
