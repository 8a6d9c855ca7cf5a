"""The safe fetcher against local test servers. Nothing here leaves the loopback interface.

Most tests keep the production policy (no loopback) and play the part of DNS and of the
network: the resolver answers a public address (93.184.216.34) for `public.test`, and the
connector records which checked address the fetcher dialled before routing the socket to
the local server. That way a redirect to 127.0.0.1 is refused by the real policy, and the
tests can prove the fetcher connects to the address it checked. A few tests use the real
connector with `allow_loopback=True`, the explicit switch for test suites."""

from __future__ import annotations

import gzip
import http.server
import shutil
import socket
import ssl
import subprocess
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from cases.kernel.net.fetcher import FetchResult, fetch
from cases.kernel.net.outcome import FetchOutcome
from cases.kernel.net.policy import Policy

PUBLIC_IP = "93.184.216.34"
HTML = b"<!doctype html><title>suspect</title><p>hello</p>"


def _gzip_bomb() -> bytes:
    """About 1 MB that inflates to 1 GiB: 64 gzip members of 16 MiB of zeros each."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    member = compressor.compress(bytes(16 * 1024 * 1024)) + compressor.flush()
    return member * 64


# --- the local test server --------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.server.hits.append((parts.path, self.headers.get("Host", "")))
        route = ROUTES.get(parts.path.split("/")[1] if parts.path.count("/") > 1 else parts.path)
        try:
            if route is None:
                self._send(404, b"not found")
            else:
                route(self, parts.path, parse_qs(parts.query))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the fetcher hung up on purpose

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        for name, value in headers or [("Content-Type", "text/html")]:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, status: int = 302) -> None:
        self._send(status, b"", [("Location", location)])

    def _stream_forever(self, chunk: bytes, pause: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        while not self.server.stopping.is_set():
            self.wfile.write(chunk)
            self.wfile.flush()
            time.sleep(pause)


def _ok(h: _Handler, path: str, query: dict[str, list[str]]) -> None:
    h._send(
        200,
        HTML,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("X-Evidence", "yes"),
        ],
    )


def _redirect_n(h: _Handler, path: str, query: dict[str, list[str]]) -> None:
    remaining = int(path.rsplit("/", 1)[1])
    h._redirect(f"/redirect/{remaining - 1}" if remaining > 1 else "/ok")


def _to(h: _Handler, path: str, query: dict[str, list[str]]) -> None:
    h._redirect(query["u"][0])


def _encoded(h: _Handler, path: str, query: dict[str, list[str]]) -> None:
    kind = path.rsplit("/", 1)[1]
    text = b"hello, " + kind.encode() + b"! " * 100
    if kind == "gzip":
        body, coding = gzip.compress(text), "gzip"
    elif kind == "deflate-raw":
        compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        body, coding = compressor.compress(text) + compressor.flush(), "deflate"
    elif kind == "deflate-zlib":
        body, coding = zlib.compress(text), "deflate"
    elif kind == "multi-gzip":
        body, coding = gzip.compress(text[:50]) + gzip.compress(text[50:]), "gzip"
    elif kind == "bomb":
        body, coding = h.server.bomb, "gzip"
    else:
        body, coding = b"\x00garbage", "gzip"
    h._send(200, body, [("Content-Type", "text/plain"), ("Content-Encoding", coding)])


def _drip(h: _Handler, path: str, query: dict[str, list[str]]) -> None:
    h._stream_forever(b"x", 0.02)


def _firehose(h: _Handler, path: str, query: dict[str, list[str]]) -> None:
    h._stream_forever(b"y" * 65536, 0)


def _slow_headers(h: _Handler, path: str, query: dict[str, list[str]]) -> None:
    h.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
    while not h.server.stopping.is_set():
        h.wfile.write(b"z")
        h.wfile.flush()
        time.sleep(0.02)


def _stall(h: _Handler, path: str, query: dict[str, list[str]]) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "100")
    h.end_headers()
    h.wfile.write(b"12345")
    h.wfile.flush()
    h.server.stopping.wait(5)


def _huge_declared(h: _Handler, path: str, query: dict[str, list[str]]) -> None:
    h.send_response(200)
    h.send_header("Content-Length", str(10**10))
    h.end_headers()
    h.wfile.write(b"a" * 1000)


def _short(h: _Handler, path: str, query: dict[str, list[str]]) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "100")
    h.end_headers()
    h.wfile.write(b"only ten b")


ROUTES: dict[str, Callable[[_Handler, str, dict[str, list[str]]], None]] = {
    "/ok": _ok,
    "redirect": _redirect_n,
    "/loop": lambda h, path, query: h._redirect("/loop"),
    "/relative": lambda h, path, query: h._redirect("ok?from=relative", 301),
    "/to": _to,
    "encoded": _encoded,
    "/drip": _drip,
    "/firehose": _firehose,
    "/slow-headers": _slow_headers,
    "/stall": _stall,
    "/huge-declared": _huge_declared,
    "/short": _short,
}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, bomb: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[tuple[str, str]] = []
        self.stopping = threading.Event()
        self.bomb = bomb

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def _serve(server: _Server) -> Iterator[_Server]:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.stopping.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return _gzip_bomb()


@pytest.fixture(scope="module")
def http_server(bomb: bytes) -> Iterator[_Server]:
    yield from _serve(_Server(bomb))


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a certificate for public.test, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=AgencyGuard test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    openssl("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=public.test")
    (folder / "leaf.ext").write_text(
        "subjectAltName=DNS:public.test\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")  # fmt: skip
    return {"ca": folder / "ca.pem", "cert": folder / "leaf.pem", "key": folder / "leaf.key"}


@pytest.fixture(scope="module")
def https_server(tls_files: dict[str, Path]) -> Iterator[_Server]:
    server = _Server(b"")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files["cert"], tls_files["key"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from _serve(server)


# --- a fake DNS and network -------------------------------------------------------------


@dataclass
class FakeResolver:
    """Answers from a table; a list of answers per name plays out one answer per call."""

    answers: dict[str, list[list[str]]]
    calls: list[str] = field(default_factory=list)

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        plays = self.answers[host]
        return plays.pop(0) if len(plays) > 1 else plays[0]


@dataclass
class RoutingConnector:
    """Records the address the fetcher dials, then connects to the local server instead."""

    ports: dict[int, int]  # URL port -> local test server port
    dialled: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, ip: str, port: int, timeout: float) -> socket.socket:
        self.dialled.append((ip, port))
        return socket.create_connection(("127.0.0.1", self.ports[port]), timeout=timeout)


def public(**extra: list[list[str]]) -> FakeResolver:
    return FakeResolver({"public.test": [[PUBLIC_IP]], **extra})


@pytest.fixture
def net(http_server: _Server) -> RoutingConnector:
    return RoutingConnector({80: http_server.port})


def fetch_within(seconds: float, url: str, policy: Policy, **kwargs: object) -> FetchResult:
    """Fail, instead of hanging the suite, if the fetcher ignores its limits."""
    results: list[FetchResult] = []
    worker = threading.Thread(
        target=lambda: results.append(fetch(url, policy, **kwargs)),  # type: ignore[arg-type]
        daemon=True,
    )
    worker.start()
    worker.join(seconds)
    if not results:
        pytest.fail(f"fetch({url!r}) was still running after {seconds} s")
    return results[0]


# --- fetching ---------------------------------------------------------------------------


def test_fetch_records_status_headers_body_and_the_address(
    net: RoutingConnector, http_server: _Server
) -> None:
    resolver = public()
    result = fetch("http://public.test/ok", Policy(), resolver=resolver, connector=net)
    assert result.outcome == FetchOutcome.OK, result.message
    assert result.ok and not result.refused
    assert result.status_code == 200
    assert result.body == HTML
    assert result.ip == PUBLIC_IP
    assert result.final_url == "http://public.test/ok"
    assert ("Set-Cookie", "a=1") in result.headers and ("Set-Cookie", "b=2") in result.headers
    assert ("X-Evidence", "yes") in result.headers
    assert result.final is not None and result.final.http_version == "HTTP/1.0"
    assert ("Host", "public.test") in result.final.request_headers
    assert http_server.hits[-1] == ("/ok", "public.test")
    assert result.started_at <= result.finished_at
    assert result.started_at.tzinfo is not None
    assert 0 < result.elapsed < 5


def test_fetch_with_the_real_connector_reaches_loopback_only_when_allowed(
    http_server: _Server,
) -> None:
    resolver = FakeResolver({"public.test": [["127.0.0.1"]]})
    policy = Policy(allow_loopback=True, allowed_ports=frozenset({http_server.port}))
    result = fetch(f"http://public.test:{http_server.port}/ok", policy, resolver=resolver)
    assert result.ok, result.message
    assert result.body == HTML
    assert result.ip == "127.0.0.1"
    assert result.final is not None and result.final.local_ip == "127.0.0.1"
    assert http_server.hits[-1] == ("/ok", f"public.test:{http_server.port}")

    hits = len(http_server.hits)
    strict = Policy(allowed_ports=frozenset({http_server.port}))
    refused = fetch(f"http://127.0.0.1:{http_server.port}/ok", strict)
    assert refused.refused
    assert "loopback" in refused.refused_reason
    assert len(http_server.hits) == hits  # nothing was sent


def test_system_resolver_and_fallback_to_the_next_checked_address(http_server: _Server) -> None:
    # localhost comes from /etc/hosts (no DNS traffic); it may answer ::1 first, where
    # nothing listens, so the fetcher must move on to 127.0.0.1.
    policy = Policy(allow_loopback=True, allowed_ports=frozenset({http_server.port}))
    result = fetch(f"http://localhost:{http_server.port}/ok", policy)
    assert result.ok, result.message
    assert result.ip in ("127.0.0.1", "::1")


def test_redirect_chain_is_followed_and_recorded(net: RoutingConnector) -> None:
    resolver = public()
    result = fetch("http://public.test/redirect/3", Policy(), resolver=resolver, connector=net)
    assert result.ok, result.message
    assert result.redirect_chain == [
        ("http://public.test/redirect/3", 302, "http://public.test/redirect/2"),
        ("http://public.test/redirect/2", 302, "http://public.test/redirect/1"),
        ("http://public.test/redirect/1", 302, "http://public.test/ok"),
    ]
    assert result.final_url == "http://public.test/ok"
    assert result.body == HTML
    assert resolver.calls == ["public.test"] * 4  # resolved once per hop, re-checked each time
    assert net.dialled == [(PUBLIC_IP, 80)] * 4


def test_relative_location_is_resolved_against_the_current_url(net: RoutingConnector) -> None:
    result = fetch("http://public.test/relative", Policy(), resolver=public(), connector=net)
    assert result.ok, result.message
    assert result.redirect_chain == [
        ("http://public.test/relative", 301, "http://public.test/ok?from=relative")
    ]


def test_five_redirects_are_followed_but_not_six(net: RoutingConnector) -> None:
    assert fetch("http://public.test/redirect/5", Policy(), resolver=public(), connector=net).ok
    result = fetch("http://public.test/redirect/6", Policy(), resolver=public(), connector=net)
    assert result.outcome == FetchOutcome.TOO_MANY_REDIRECTS
    assert len(result.redirects) == 6
    assert "More than 5 redirects" in result.error


def test_redirect_loop_stops(net: RoutingConnector) -> None:
    result = fetch("http://public.test/loop", Policy(), resolver=public(), connector=net)
    assert result.outcome == FetchOutcome.TOO_MANY_REDIRECTS
    assert len(net.dialled) == 6


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0x7f.1/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:169.254.169.254]/", "IPv4-mapped"),
        ("http://[64:ff9b::10.0.0.1]/", "NAT64"),
        ("http://internal.test/", "resolves to 10.0.0.5"),
        ("http://localhost/", "local host name"),
        ("http://public.test:6379/", "Port 6379"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://public.test/", "scheme 'gopher'"),
        ("http://public.test@127.0.0.1/", "user name"),
    ],
)
def test_redirect_to_an_internal_target_is_refused(
    net: RoutingConnector, location: str, words: str
) -> None:
    resolver = public(**{"internal.test": [["10.0.0.5"]]})
    url = "http://public.test/to?u=" + location.replace("&", "%26")
    result = fetch(url, Policy(), resolver=resolver, connector=net)
    assert result.refused
    assert result.outcome == FetchOutcome.REFUSED
    assert words in result.refused_reason
    assert result.redirect_chain == [(url, 302, location)]
    assert net.dialled == [(PUBLIC_IP, 80)]  # the refused hop was never dialled


@pytest.mark.parametrize("location", ["http://[::1/", "http://[", "http://[zz]/"])
def test_redirect_to_an_unparseable_url_is_refused_not_raised(
    net: RoutingConnector, location: str
) -> None:
    url = "http://public.test/to?u=" + location
    result = fetch(url, Policy(), resolver=public(), connector=net)
    assert result.outcome == FetchOutcome.REFUSED
    assert "cannot be parsed" in result.refused_reason
    assert result.redirect_chain == [(url, 302, location)]


def test_redirects_stay_refused_with_loopback_allowed_for_tests(http_server: _Server) -> None:
    port = http_server.port
    policy = Policy(allow_loopback=True, allowed_ports=frozenset({port}))
    resolver = FakeResolver({"public.test": [["127.0.0.1"]]})
    for location in (f"http://169.254.169.254:{port}/", f"http://[::ffff:127.0.0.1]:{port}/"):
        hits = len(http_server.hits)
        result = fetch(f"http://public.test:{port}/to?u={location}", policy, resolver=resolver)
        assert result.refused, location
        assert len(http_server.hits) == hits + 1  # only the first hop reached the server


# --- DNS ----------------------------------------------------------------------------------


def test_dns_rebinding_cannot_swap_the_address_after_the_check(net: RoutingConnector) -> None:
    # A rebinding name answers a public address to the check and 127.0.0.1 afterwards.
    resolver = FakeResolver({"public.test": [[PUBLIC_IP], ["127.0.0.1"]]})
    result = fetch("http://public.test/ok", Policy(), resolver=resolver, connector=net)
    assert result.ok, result.message
    assert resolver.calls == ["public.test"]  # one lookup: nothing left to rebind
    assert net.dialled == [(PUBLIC_IP, 80)]  # and the socket went to the checked address
    assert result.ip == PUBLIC_IP


def test_dns_rebinding_between_redirect_hops_is_caught(net: RoutingConnector) -> None:
    resolver = FakeResolver({"public.test": [[PUBLIC_IP], ["127.0.0.1"]]})
    result = fetch("http://public.test/redirect/1", Policy(), resolver=resolver, connector=net)
    assert result.refused
    assert "public.test resolves to 127.0.0.1" in result.refused_reason
    assert resolver.calls == ["public.test", "public.test"]
    assert net.dialled == [(PUBLIC_IP, 80)]


def test_mixed_dns_answer_is_refused_as_a_whole(net: RoutingConnector) -> None:
    resolver = FakeResolver({"public.test": [[PUBLIC_IP, "10.0.0.1"]]})
    result = fetch("http://public.test/ok", Policy(), resolver=resolver, connector=net)
    assert result.refused
    assert "10.0.0.1" in result.refused_reason
    assert net.dialled == []


def test_dns_failure_is_reported_as_dns_error(net: RoutingConnector) -> None:
    result = fetch("http://nowhere.test/", Policy(), resolver=public(), connector=net)
    assert result.outcome == FetchOutcome.DNS_ERROR
    assert "nowhere.test could not be resolved" in result.error
    assert net.dialled == []


def test_empty_dns_answer_is_a_dns_error(net: RoutingConnector) -> None:
    result = fetch(
        "http://public.test/", Policy(), resolver=FakeResolver({"public.test": [[]]}), connector=net
    )
    assert result.outcome == FetchOutcome.DNS_ERROR


def test_hanging_resolver_is_cut_off_by_the_deadline(net: RoutingConnector) -> None:
    def hanging(host: str, port: int) -> list[str]:
        time.sleep(3)
        return [PUBLIC_IP]

    policy = Policy(total_deadline=0.3)
    result = fetch_within(1.5, "http://public.test/", policy, resolver=hanging, connector=net)
    assert result.outcome == FetchOutcome.DNS_ERROR
    assert "longer than the time limit" in result.error


# --- refusals before any traffic ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://public.test:70/_INFO", "scheme 'gopher'"),
        ("ftp://public.test/", "scheme 'ftp'"),
        ("http://public.test:8080/", "Port 8080"),
        ("https://public.test:22/", "Port 22"),
        ("http://127.0.0.1@public.test/", "user name"),
        ("http://public.test@127.0.0.1/", "user name"),
        ("http://public.test\\@127.0.0.1/", "backslash"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://%31%32%37.0.0.1/", "loopback"),
        ("http://0177.0.0.1./", "loopback"),
    ],
)
def test_hostile_url_is_refused_before_any_lookup_or_connection(
    net: RoutingConnector, url: str, words: str
) -> None:
    resolver = public()
    result = fetch(url, Policy(), resolver=resolver, connector=net)
    assert result.refused
    assert words in result.refused_reason
    assert resolver.calls == [] and net.dialled == []
    assert result.final is None and result.status_code is None


# --- limits -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gzip", "deflate-raw", "deflate-zlib", "multi-gzip"])
def test_compressed_body_is_decoded(net: RoutingConnector, kind: str) -> None:
    result = fetch(f"http://public.test/encoded/{kind}", Policy(), resolver=public(), connector=net)
    assert result.ok, result.message
    assert result.content_decoded
    assert result.body == b"hello, " + kind.encode() + b"! " * 100
    assert result.raw_body != result.body  # the wire bytes are kept for the WARC


def test_corrupt_gzip_is_a_protocol_error_with_the_raw_bytes_kept(net: RoutingConnector) -> None:
    result = fetch("http://public.test/encoded/corrupt", Policy(), resolver=public(), connector=net)
    assert result.outcome == FetchOutcome.PROTOCOL_ERROR
    assert result.raw_body == b"\x00garbage"


def test_gzip_bomb_stops_at_the_decompressed_cap_quickly_and_in_little_memory(
    net: RoutingConnector, bomb: bytes
) -> None:
    cap = 1024 * 1024
    policy = Policy(max_decompressed_bytes=cap)
    tracemalloc.start()
    try:
        url = "http://public.test/encoded/bomb"
        result = fetch_within(3, url, policy, resolver=public(), connector=net)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome == FetchOutcome.BODY_TOO_LARGE
    assert "too large" in result.error
    assert result.truncated
    assert len(result.body) == cap
    assert result.body == bytes(cap)
    assert len(result.raw_body) < len(bomb)  # stopped reading the wire too
    assert peak < 40 * 1024 * 1024  # nowhere near the 1 GiB it expands to


def test_declared_content_length_over_the_cap_is_refused_early(net: RoutingConnector) -> None:
    result = fetch("http://public.test/huge-declared", Policy(), resolver=public(), connector=net)
    assert result.outcome == FetchOutcome.BODY_TOO_LARGE
    assert "announced 10000000000 bytes" in result.error
    assert result.status_code == 200 and result.truncated and result.raw_body == b""


def test_endless_fast_body_stops_at_the_byte_cap(net: RoutingConnector) -> None:
    cap = 300_000
    policy = Policy(max_body_bytes=cap)
    result = fetch_within(
        3, "http://public.test/firehose", policy, resolver=public(), connector=net
    )
    assert result.outcome == FetchOutcome.BODY_TOO_LARGE
    assert result.truncated
    assert len(result.raw_body) == cap and len(result.body) == cap


def test_endless_slow_body_stops_at_the_deadline(net: RoutingConnector) -> None:
    policy = Policy(total_deadline=0.5)
    result = fetch_within(1.5, "http://public.test/drip", policy, resolver=public(), connector=net)
    assert result.outcome == FetchOutcome.DEADLINE_EXCEEDED
    assert result.truncated
    assert result.body and set(result.body) == {ord("x")}
    assert result.status_code == 200


def test_endless_slow_headers_stop_at_the_deadline(net: RoutingConnector) -> None:
    # Each header byte arrives in time, so only the watchdog can end this.
    policy = Policy(total_deadline=0.5)
    url = "http://public.test/slow-headers"
    result = fetch_within(1.5, url, policy, resolver=public(), connector=net)
    assert result.outcome == FetchOutcome.DEADLINE_EXCEEDED


def test_silent_server_is_a_read_timeout(net: RoutingConnector) -> None:
    policy = Policy(read_timeout=0.3)
    result = fetch_within(1.5, "http://public.test/stall", policy, resolver=public(), connector=net)
    assert result.outcome == FetchOutcome.READ_TIMEOUT
    assert result.truncated and result.raw_body == b"12345"


def test_body_shorter_than_announced_is_a_protocol_error(net: RoutingConnector) -> None:
    result = fetch("http://public.test/short", Policy(), resolver=public(), connector=net)
    assert result.outcome == FetchOutcome.PROTOCOL_ERROR
    assert result.truncated and result.raw_body == b"only ten b"


# --- connections and TLS -----------------------------------------------------------------


def test_connect_timeout_and_connect_error_are_distinct() -> None:
    def timing_out(ip: str, port: int, timeout: float) -> socket.socket:
        raise TimeoutError("timed out")

    result = fetch("http://public.test/", Policy(), resolver=public(), connector=timing_out)
    assert result.outcome == FetchOutcome.CONNECT_TIMEOUT

    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    result = fetch(
        "http://public.test/",
        Policy(),
        resolver=public(),
        connector=RoutingConnector({80: closed_port}),
    )
    assert result.outcome == FetchOutcome.CONNECT_ERROR
    assert PUBLIC_IP in result.error


def test_https_verifies_the_certificate_against_the_url_host_on_the_pinned_address(
    https_server: _Server, tls_files: dict[str, Path]
) -> None:
    net = RoutingConnector({443: https_server.port})
    policy = Policy(ca_file=str(tls_files["ca"]))
    result = fetch("https://public.test/ok", policy, resolver=public(), connector=net)
    assert result.ok, result.message
    assert result.body == HTML
    assert net.dialled == [(PUBLIC_IP, 443)]


def test_https_with_a_certificate_for_another_name_is_a_tls_error(
    https_server: _Server, tls_files: dict[str, Path]
) -> None:
    net = RoutingConnector({443: https_server.port})
    resolver = FakeResolver({"other.test": [[PUBLIC_IP]]})
    result = fetch(
        "https://other.test/ok",
        Policy(ca_file=str(tls_files["ca"])),
        resolver=resolver,
        connector=net,
    )
    assert result.outcome == FetchOutcome.TLS_ERROR
    assert "other.test" in result.error


def test_https_with_an_untrusted_certificate_is_a_tls_error(https_server: _Server) -> None:
    net = RoutingConnector({443: https_server.port})
    result = fetch("https://public.test/ok", Policy(), resolver=public(), connector=net)
    assert result.outcome == FetchOutcome.TLS_ERROR
    assert "certificate verify failed" in result.error
