"""A local suspect site for capture tests and the capture bench, and the fake network that
puts it on the public internet.

`SuspectSite` serves pages with images, a video, a redirect chain, a hostile page, removal
pages and a page whose content can be switched off and on. `InternalService` stands in
for something on our own network (a metadata service, an admin port): it only counts the
requests it receives, and a capture must never make it receive one.

`FakeNetwork` plays DNS and routing: `site.test` and `cdn.site.test` resolve to a public
address (93.184.216.34) whose connections are routed to the local site, and
`rebind.test` resolves to 127.0.0.1. The production policy (no loopback) stays on, so
every internal address a hostile page names is refused by the real policy, not by a
test switch.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from PIL import Image

from cases.kernel.net.connection import direct_connector

PUBLIC_IP = "93.184.216.34"
SITE_HOST = "site.test"
PAGE_TITLE = "Suspect page"


def png_bytes(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], 8):  # some structure, so that it is not a flat colour
        for y in range(0, size[1], 8):
            if (x // 8 + y // 8) % 2:
                image.putpixel((x, y), (255 - color[0], 255 - color[1], 255 - color[2]))
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


# An MP4 header (ftyp box) followed by filler: enough for the magic-byte check; Chromium
# shows a video element that cannot play, which is fine for a screenshot.
VIDEO = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(range(256)) * 64
IMAGES = {
    "/img/hero.png": png_bytes((640, 360), (200, 30, 60)),
    "/img/second.jpg": jpeg_bytes((320, 240), (20, 120, 200)),
    "/img/og.jpg": jpeg_bytes((400, 400), (240, 200, 10)),
    "/img/pixel.png": png_bytes((1, 1), (0, 0, 0)),
    "/img/slow.png": png_bytes((200, 200), (10, 200, 90)),
    "/img/bg.png": png_bytes((16, 16), (90, 90, 90)),
}


def page_html() -> bytes:
    return f"""<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>{PAGE_TITLE}</title>
<meta property="og:image" content="/img/og.jpg">
<link rel="stylesheet" href="/style.css">
</head><body>
<h1>{PAGE_TITLE} 딥페이크 테스트</h1>
<img src="/img/hero.png" width="640" height="360" alt="hero">
<img src="http://cdn.{SITE_HOST}/img/second.jpg" width="320" height="240" alt="second">
<img src="/img/pixel.png" width="1" height="1" alt="">
<video src="/media/clip.mp4" controls width="320" height="180"></video>
<p>Body text of the suspect page.</p>
<script>fetch("/api/ping").then(r => r.text()).then(t => document.title += " " + t);</script>
</body></html>""".encode()


def slow_page_html() -> bytes:
    """The page of the crash test: one image takes seconds, so a worker can be killed
    while the capture waits for it."""
    return b"""<!doctype html><html><head><title>Slow page</title></head><body>
<h1>Slow page</h1><img src="/img/hero.png" width="640" height="360">
<img src="/img/slow.png" width="200" height="200"></body></html>"""


def hostile_html(internal_port: int) -> bytes:
    p = internal_port
    return f"""<!doctype html><html><head><title>Hostile page</title>
<link rel="stylesheet" href="http://localhost:{p}/css-link">
<link rel="prefetch" href="http://127.0.0.1:{p}/prefetch">
<style>body {{ background: url(http://127.0.0.1:{p}/css-bg); }}</style>
</head><body>
<h1>Hostile page</h1>
<img src="/img/hero.png" width="640" height="360">
<img src="http://169.254.169.254/latest/meta-data/iam/security-credentials/">
<img src="http://127.0.0.1:{p}/secret-img">
<img src="http://0x7f.1:{p}/secret-hex">
<img src="http://2130706433:{p}/secret-decimal">
<img src="http://[::1]:{p}/secret-v6">
<img src="http://[::ffff:127.0.0.1]:{p}/secret-mapped">
<img src="http://rebind.test:{p}/secret-rebind">
<img src="/redirect-inside?port={p}">
<iframe src="http://127.0.0.1:{p}/secret-frame"></iframe>
<script>
fetch("http://127.0.0.1:{p}/secret-fetch").catch(() => {{}});
try {{ new WebSocket("ws://127.0.0.1:{p}/secret-ws"); }} catch (e) {{}}
navigator.sendBeacon("http://127.0.0.1:{p}/secret-beacon", "x");
const xhr = new XMLHttpRequest(); xhr.open("GET", "http://127.0.0.1:{p}/secret-xhr"); xhr.send();
new Worker(URL.createObjectURL(new Blob(
  ["fetch('http://127.0.0.1:{p}/secret-worker').catch(() => {{}});"
   + "try {{ new WebSocket('ws://127.0.0.1:{p}/secret-worker-ws') }} catch (e) {{}}"],
  {{type: "text/javascript"}})));
new EventSource("http://127.0.0.1:{p}/secret-sse");
</script>
</body></html>""".encode()


# Hostile pages that change what they show after load. Each shows a solid background
# colour and a marker word, so that a test can read from the screenshot's pixels which
# document Chromium displayed and look for the same marker in the stored HTML and DOM.
ORIGINAL_COLOUR = (200, 30, 30)  # red: the document served at the requested URL
OTHER_COLOUR = (30, 60, 200)  # blue: whatever the page turns itself into
ORIGINAL_MARKER = "ORIGINAL-CONTENT-MARKER"
OTHER_MARKER = "SUBSTITUTED-CONTENT-MARKER"


def _coloured(colour: tuple[int, int, int], marker: str, extra: str = "") -> bytes:
    r, g, b = colour
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{marker}</title>
<style>html, body {{ margin: 0; background: rgb({r}, {g}, {b}); min-height: 100%; }}</style>
{extra}</head><body><h1 style="color: white">{marker}</h1></body></html>""".encode()


def _other_js() -> str:
    r, g, b = OTHER_COLOUR
    return (
        f"document.documentElement.innerHTML = '<head><title>{OTHER_MARKER}</title>"
        f"<style>html, body {{ margin: 0; background: rgb({r}, {g}, {b}); }}</style></head>"
        f'<body><h1 style="color: white">{OTHER_MARKER}</h1></body>\';'
    )


HOSTILE_PAGES: dict[str, bytes] = {
    # The page of the finding: changes its own location 300 ms after load.
    "/self-navigating": _coloured(
        ORIGINAL_COLOUR,
        ORIGINAL_MARKER,
        "<script>addEventListener('load', () => "
        "setTimeout(() => { location.href = '/substitute'; }, 300));</script>",
    ),
    # A meta refresh to another page.
    "/meta-refresh": _coloured(
        ORIGINAL_COLOUR,
        ORIGINAL_MARKER,
        '<meta http-equiv="refresh" content="0; url=/substitute">',
    ),
    # Rewrites itself with document.open()/write() after load (same URL, new content).
    "/document-write": _coloured(
        ORIGINAL_COLOUR,
        ORIGINAL_MARKER,
        "<script>addEventListener('load', () => setTimeout(() => { document.open(); "
        f"document.write({_coloured(OTHER_COLOUR, OTHER_MARKER).decode()!r}); "
        "document.close(); }, 300));</script>",
    ),
    # Changes the address bar with history.pushState and swaps its content.
    "/push-state": _coloured(
        ORIGINAL_COLOUR,
        ORIGINAL_MARKER,
        "<script>addEventListener('load', () => setTimeout(() => { "
        f"history.pushState({{}}, '', '/pushed-url'); {_other_js()} }}, 300));</script>",
    ),
    # Opens a window (a popup) and then navigates itself to it.
    "/window-open": _coloured(
        ORIGINAL_COLOUR,
        ORIGINAL_MARKER,
        "<script>addEventListener('load', () => setTimeout(() => { "
        "window.open('/substitute', 'other'); "
        "setTimeout(() => { location.replace('/substitute'); }, 100); }, 200));</script>",
    ),
    # Keeps rewriting itself for ever (no frozen state unless scripts are stopped).
    "/flicker": _coloured(
        ORIGINAL_COLOUR,
        ORIGINAL_MARKER,
        "<script>let n = 0; setInterval(() => { n += 1; document.title = 'flicker ' + n; "
        "document.body.dataset.n = n; }, 20);</script>",
    ),
    # Leaves for a document that never passes through the network (no request to block).
    "/blank-out": _coloured(
        ORIGINAL_COLOUR,
        ORIGINAL_MARKER,
        "<script>addEventListener('load', () => "
        "setTimeout(() => { location.href = 'about:blank'; }, 300));</script>",
    ),
    # Holds its content in a frame of another site, whose script keeps running in a
    # process of its own (an out-of-process iframe) and keeps asking for /tick.
    "/framed": _coloured(
        ORIGINAL_COLOUR,
        ORIGINAL_MARKER,
        "<iframe src='http://other.test/ticking-frame' width=400 height=200></iframe>",
    ),
    "/ticking-frame": b"""<!doctype html><html><body><p>frame</p><script>
let n = 0; setInterval(() => { n += 1; fetch('/tick?n=' + n).catch(() => {}); }, 20);
</script></body></html>""",
    "/substitute": _coloured(OTHER_COLOUR, OTHER_MARKER),
}


REMOVED_HTML = b"""<!doctype html><html><head><title>Video</title></head><body>
<div class="error"><h1>This video isn't available anymore</h1></div></body></html>"""
REMOVED_HTML_KO = """<!doctype html><html><head><meta charset="utf-8"><title>블로그</title></head>
<body><p>삭제된 게시물입니다.</p></body></html>""".encode()


class _SiteHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _SiteServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.site.hits.append(parts.path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client hung up
            self.server.site.route(self, parts.path, parts.query)

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str,
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra or []:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, status: int, location: str) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _SiteServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    site: SuspectSite


@dataclass
class SuspectSite:
    """The local site. `live` switches /toggle between the content and a removal page."""

    internal_port: int = 0
    slow_seconds: float = 0.0
    live: bool = True
    hits: list[str] = field(default_factory=list)
    server: _SiteServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def route(self, h: _SiteHandler, path: str, query: str) -> None:
        if path == "/start":
            h.redirect(301, "/hop")
        elif path == "/hop":
            h.redirect(302, "/page")
        elif path == "/page":
            h.send_body(
                200, page_html(), "text/html; charset=utf-8", [("X-Served-By", "suspect-site")]
            )
        elif path == "/slow":
            h.send_body(200, slow_page_html(), "text/html; charset=utf-8")
        elif path == "/hostile":
            h.send_body(200, hostile_html(self.internal_port), "text/html; charset=utf-8")
        elif path == "/redirect-inside":
            h.redirect(302, f"http://127.0.0.1:{self.internal_port}/secret-redirect")
        elif path == "/style.css":
            h.send_body(200, b"body { background: #fff url(/img/bg.png) repeat-x; }", "text/css")
        elif path == "/tick":
            h.send_body(200, b"tick", "text/plain")
        elif path == "/api/ping":
            h.send_body(200, b"pong", "text/plain")
        elif path == "/media/clip.mp4":
            h.send_body(200, VIDEO, "video/mp4")
        elif path == "/gone":
            h.send_body(
                404, b"<!doctype html><title>Not found</title><h1>Not Found</h1>", "text/html"
            )
        elif path == "/deleted":
            h.send_body(410, b"<!doctype html><title>Gone</title>", "text/html")
        elif path == "/removed":
            h.send_body(200, REMOVED_HTML, "text/html; charset=utf-8")
        elif path == "/removed-ko":
            h.send_body(200, REMOVED_HTML_KO, "text/html; charset=utf-8")
        elif path == "/toggle":
            if self.live:
                h.send_body(200, page_html(), "text/html; charset=utf-8")
            else:
                h.send_body(200, REMOVED_HTML, "text/html; charset=utf-8")
        elif path in HOSTILE_PAGES:
            h.send_body(200, HOSTILE_PAGES[path], "text/html; charset=utf-8")
        elif path in IMAGES:
            if path == "/img/slow.png" and self.slow_seconds:
                time.sleep(self.slow_seconds)
            h.send_body(200, IMAGES[path], "image/jpeg" if path.endswith(".jpg") else "image/png")
        else:
            h.send_body(404, b"not found", "text/plain")

    def start(self) -> SuspectSite:
        self.server = _SiteServer(("127.0.0.1", 0), _SiteHandler)
        self.server.site = self
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _InternalHandler(http.server.BaseHTTPRequestHandler):
    server: _InternalServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _count(self) -> None:
        self.server.hits.append(f"{self.command} {self.path}")
        body = b"internal secret"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = _count


class _InternalServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    hits: list[str]


class InternalService:
    """Something on our own network. Listens on IPv4 and (when the host has it) IPv6
    loopback, and counts every request."""

    def __init__(self) -> None:
        self.server = _InternalServer(("127.0.0.1", 0), _InternalHandler)
        self.server.hits = []
        self.port = int(self.server.server_address[1])
        self.servers = [self.server]
        try:
            v6 = _InternalServer(("::1", self.port), _InternalHandler, bind_and_activate=False)
            v6.address_family = socket.AF_INET6
            v6.socket = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            v6.server_bind()
            v6.server_activate()
            v6.hits = self.server.hits
            self.servers.append(v6)
        except OSError:
            pass  # no IPv6 loopback here
        for server in self.servers:
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            ).start()

    @property
    def hits(self) -> list[str]:
        return self.server.hits

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@dataclass
class FakeNetwork:
    """DNS and routing for the tests: public names for the local site."""

    site_port: int
    names: dict[str, list[str]] = field(default_factory=dict)
    dialled: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = {
            SITE_HOST: [PUBLIC_IP],
            f"cdn.{SITE_HOST}": [PUBLIC_IP],
            "other.test": [PUBLIC_IP],  # another site on the same server (cross-site frames)
            "rebind.test": ["127.0.0.1"],
            **self.names,
        }

    def resolver(self, host: str, port: int) -> list[str]:
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.names[host])

    def connector(self, ip: str, port: int, timeout: float) -> socket.socket:
        self.dialled.append((ip, port))
        if ip == PUBLIC_IP:
            return direct_connector("127.0.0.1", self.site_port, timeout)
        return direct_connector(ip, port, timeout)

    @property
    def kwargs(self) -> dict[str, Callable[..., object]]:
        return {"resolver": self.resolver, "connector": self.connector}


def site_url(path: str) -> str:
    return f"http://{SITE_HOST}{path}"
