"""The pure parts of a capture: which media a page embeds, what counts as media, what
counts as a removal page, and the WARC writer's handling of edge cases."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from warcio.archiveiterator import ArchiveIterator

from cases.evidence.capture.media import media_candidates, media_file_name, sniff_media_type
from cases.evidence.capture.observation import RemovalSignature, removal_signature_match
from cases.evidence.capture.page import decode_html, visible_text
from cases.evidence.capture.warc import CaptureWarc
from cases.kernel.net.fetcher import FetchResult, Hop
from cases.kernel.net.outcome import FetchOutcome

PAGE = "http://site.test/post/1"


def test_media_candidates_put_declared_video_and_images_first_and_skip_trackers() -> None:
    html = """<html><head><base href="/media/">
    <meta property="og:video" content="http://cdn.site.test/v.mp4">
    <meta property="og:image" content="cover.jpg"></head><body>
    <img src="small.png" width="100" height="100">
    <img src="pixel.gif" width="1" height="1">
    <img src="big.jpg" width="1200" height="800">
    <img srcset="a-480.jpg 480w, a-1080.jpg 1080w" src="a.jpg">
    <video><source src="clip.webm" type="video/webm"></video>
    <img src="data:image/png;base64,AAAA">
    <img src="javascript:alert(1)">
    <img src="big.jpg#again">
    </body></html>"""

    urls = [c.url for c in media_candidates(html, PAGE, limit=10)]

    assert urls == [
        "http://cdn.site.test/v.mp4",
        "http://site.test/media/clip.webm",
        "http://site.test/media/cover.jpg",
        "http://site.test/media/big.jpg",
        "http://site.test/media/small.png",
        "http://site.test/media/a-1080.jpg",
    ]
    assert len(media_candidates(html, PAGE, limit=2)) == 2


def test_broken_markup_still_yields_the_media_found() -> None:
    assert [c.url for c in media_candidates('<img src="x.jpg"><div <<<', PAGE, limit=5)] == [
        "http://site.test/post/x.jpg"
    ]


def test_only_image_and_video_bodies_count_as_media() -> None:
    assert sniff_media_type(b"\xff\xd8\xff\xe0....") == "image/jpeg"
    assert sniff_media_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff_media_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_media_type(b"\x00\x00\x00\x20ftypisom....") == "video/mp4"
    assert sniff_media_type(b"\x1a\x45\xdf\xa3....") == "video/webm"
    assert sniff_media_type(b"<!doctype html><title>404</title>") == ""
    assert sniff_media_type(b"") == ""
    assert media_file_name("http://site.test/img/photo?id=3", "image/jpeg") == "photo.jpg"
    assert media_file_name("http://site.test/", "video/mp4") == "media.mp4"


def test_removal_pages_are_recognised_in_english_and_korean_but_not_in_scripts() -> None:
    signatures = (
        RemovalSignature("YouTube: gone", ("youtube.com",), "this video isn't available anymore"),
        RemovalSignature("Naver: deleted", ("naver.com",), r"삭제된 게시(물|글)", is_regex=True),
    )

    def match(html: str, host: str) -> str:
        found, _timed_out = removal_signature_match(signatures, host=host, text=visible_text(html))
        return found.name if found else ""

    assert match("<h1>This video isn\u2019t available anymore</h1>", "www.youtube.com")
    assert match("<p>삭제된 게시물입니다</p>", "blog.naver.com") == "Naver: deleted"
    assert (
        match("<script>var s = 'this video isn\\'t available anymore';</script>", "youtube.com")
        == ""
    )
    assert match("<p>A normal post about a page</p>", "youtube.com") == ""
    # Only on the platform's own hosts: a lookalike domain proves nothing.
    assert match("<p>삭제된 게시물입니다</p>", "notnaver.com") == ""


def test_html_is_decoded_with_the_declared_charset() -> None:
    body = "<meta charset='euc-kr'><p>삭제된 게시물</p>".encode("euc-kr")
    assert "삭제된 게시물" in decode_html(body, "text/html")
    assert "삭제된" in decode_html("<p>삭제된</p>".encode(), "text/html; charset=utf-8")
    assert decode_html(b"\xff\xfe<p>x", "text/html; charset=bogus")  # never raises


def _result(**kwargs: object) -> FetchResult:
    hop = Hop(
        url="http://site.test/big",
        ip="93.184.216.34",
        port=80,
        local_ip="10.0.0.5",
        request_headers=[("Host", "site.test"), ("User-Agent", "t")],
        status=200,
        reason="OK",
        http_version="HTTP/1.1",
        headers=[("Content-Type", "video/mp4"), ("Transfer-Encoding", "chunked")],
    )
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    values: dict[str, object] = {
        "requested_url": hop.url,
        "final_url": hop.url,
        "outcome": FetchOutcome.OK,
        "started_at": now,
        "finished_at": now,
        "elapsed": 0.1,
        "final": hop,
        "body": b"abc",
        "raw_body": b"abc",
    }
    values.update(kwargs)
    return FetchResult(**values)  # type: ignore[arg-type]


def test_a_chunked_or_truncated_body_is_labelled_so_warc_readers_do_not_misread_it() -> None:
    warc = CaptureWarc(filename="t.warc.gz", info={"software": "test"})
    warc.add_exchange(_result(outcome=FetchOutcome.BODY_TOO_LARGE, truncated=True))
    records, bodies = [], {}
    for record in ArchiveIterator(io.BytesIO(warc.finish().read())):
        records.append(record)
        bodies[record.rec_type] = record.content_stream().read()  # streamed: read in the loop

    response = next(r for r in records if r.rec_type == "response")
    assert response.rec_headers.get_header("WARC-Truncated") == "length"
    assert response.rec_headers.get_header("WARC-IP-Address") == "93.184.216.34"
    assert response.http_headers.get_header("Transfer-Encoding") is None
    assert response.http_headers.get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert bodies["response"] == b"abc"
    request = next(r for r in records if r.rec_type == "request")
    assert request.rec_headers.get_header("WARC-Concurrent-To") == response.rec_headers.get_header(
        "WARC-Record-ID"
    )
    assert request.http_headers.protocol == "GET"


def test_the_same_exchange_is_archived_once() -> None:
    warc = CaptureWarc(filename="t.warc.gz", info={})
    result = _result()
    warc.add_exchanges([result, result])
    kinds = [r.rec_type for r in ArchiveIterator(io.BytesIO(warc.finish().read()))]
    assert kinds == ["warcinfo", "response", "request"]
