"""A local fixture web for watched-source tests: a threaded http.server on 127.0.0.1 that
serves the documents of tests/monitor/site/ with ETag / Last-Modified and honours
conditional requests (304), records every request, and can be told to fail."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SITE = Path(__file__).resolve().parent / "site"
LAST_MODIFIED = "Tue, 01 Dec 2026 10:00:00 GMT"


def site_file(name: str) -> bytes:
    return (SITE / name).read_bytes()


@dataclass
class FixtureWeb:
    """What the server serves: path -> (content type, body); which paths fail; and every
    request it got as (path, headers)."""

    documents: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    failing: dict[str, int] = field(default_factory=dict)
    # Headers added to every failing answer (Retry-After).
    failing_headers: list[tuple[str, str]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, content_type: str, body: bytes) -> None:
        with self.lock:
            self.documents[path] = (content_type, body)

    def requests_to(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if urlsplit(p).path == path]


def _search_page(query: str) -> bytes:
    """Results only for "Seori": the template source must find that one."""
    page = site_file("search.html").decode()
    if query != "Seori":
        return page.replace('<li class="result">', '<li class="none">').encode()
    return page.replace("RESULT", query).encode()


def _handler(web: FixtureWeb) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with web.lock:
                web.requests.append((self.path, dict(self.headers)))
                failing = web.failing.get(parts.path) or web.failing.get("*")
                document = web.documents.get(parts.path)
            if failing:
                for name, value in web.failing_headers:
                    self._extra.append((name, value))
                return self._send(failing, "text/plain", b"down for maintenance")
            if parts.path == "/search":
                query = parse_qs(parts.query).get("q", [""])[0]
                return self._send(200, "text/html; charset=utf-8", _search_page(query))
            if document is None:
                return self._send(404, "text/plain", b"not found")
            content_type, body = document
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag or (
                self.headers.get("If-Modified-Since") == LAST_MODIFIED
                and parts.path.endswith(".xml")
                and "sitemap" in parts.path
            ):
                return self._send(304, "", b"", etag)
            return self._send(200, content_type, body, etag)

        _extra: list[tuple[str, str]]

        def setup(self) -> None:
            super().setup()
            self._extra = []

        def _send(self, status: int, content_type: str, body: bytes, etag: str = "") -> None:
            self.send_response(status)
            for name, value in self._extra:
                self.send_header(name, value)
            if content_type:
                self.send_header("Content-Type", content_type)
            if etag and "sitemap" not in self.path:
                self.send_header("ETag", etag)
            if "sitemap" in self.path and status in (200, 304):
                self.send_header("Last-Modified", LAST_MODIFIED)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def fixture_web() -> Iterator[FixtureWeb]:
    """The fixture web with its documents, on a free port, for one test."""
    web = FixtureWeb()
    web.serve("/feed.xml", "application/rss+xml", site_file("feed.xml"))
    web.serve("/atom.xml", "application/atom+xml", site_file("atom.xml"))
    web.serve("/sitemap.xml", "application/xml", site_file("sitemap.xml"))
    web.serve("/listing.html", "text/html; charset=utf-8", site_file("listing.html"))
    web.serve("/s/kfake_leaks", "text/html; charset=utf-8", site_file("telegram.html"))
    web.serve("/r/kpopfakes/new.json", "application/json", site_file("new.json"))
    web.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(web))
    thread = threading.Thread(target=web.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield web
    finally:
        web.server.shutdown()
        web.server.server_close()


def feed_with_new_item() -> bytes:
    """The RSS feed with one more item (a later poll must create only that one)."""
    feed = site_file("feed.xml").decode()
    extra = site_file("feed_v2_item.xml").decode()
    return feed.replace("</channel>", extra + "</channel>").encode()
