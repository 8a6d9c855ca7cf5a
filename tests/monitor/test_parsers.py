"""One parser per kind of watched source, on the fixture documents of tests/monitor/site
and on hostile ones."""

from __future__ import annotations

import gzip

import pytest

from cases.intake.monitor.parsers import (
    JsonPaths,
    ParseError,
    parse_feed,
    parse_html_listing,
    parse_json_listing,
    parse_sitemap,
    parse_telegram,
    selector_compile,
)
from tests.monitor.web import site_file

BASE = "https://source.example/dir/page"


def test_an_rss_feed_gives_links_titles_plain_text_and_media() -> None:
    items = parse_feed(site_file("feed.xml"), BASE)
    assert [i.url for i in items] == [
        "https://videos.example/watch/seori-1",
        "https://videos.example/watch/weather",
        "https://clips.example/v/2",
        "https://videos.example/watch/seoris",
        "https://videos.example/watch/seori-1?utm_source=feed&fbclid=abc",
    ]
    assert items[0].title == "Seori deepfake video (HD)"
    assert items[0].text == "Uploaded today"  # the HTML summary as text
    assert items[0].media == ("https://cdn.videos.example/thumbs/seori-1.jpg",)
    assert items[2].text == "서리가 나온 영상"
    assert items[2].media == ("https://clips.example/media/2.mp4",)


def test_an_atom_feed_is_read_too() -> None:
    items = parse_feed(site_file("atom.xml"), BASE)
    assert [i.url for i in items] == [
        "https://gossip.example/2026/12/kim-seo-ri-face-swap",
        "https://gossip.example/2026/12/interview",
    ]
    assert items[0].text == "A face swap of Kim Seo-ri is going round."


def test_a_relative_feed_link_is_resolved_against_the_feed_url() -> None:
    body = b"""<rss version="2.0"><channel><title>t</title>
    <item><title>a</title><link>/p/1</link></item>
    <item><title>b</title><link>javascript:alert(1)</link></item></channel></rss>"""
    assert [i.url for i in parse_feed(body, BASE)] == ["https://source.example/p/1"]


@pytest.mark.parametrize("body", [b"<html><body>not a feed</body></html>", b"/etc/passwd", b""])
def test_what_is_not_a_feed_is_refused_with_a_reason(body: bytes) -> None:
    # feedparser would open a string it takes for a file name; the parser hands it a stream.
    with pytest.raises(ParseError, match="Not an RSS or Atom feed"):
        parse_feed(body, BASE)


def test_a_sitemap_gives_pages_titles_and_images() -> None:
    items = parse_sitemap(site_file("sitemap.xml"), BASE)
    assert [i.url for i in items] == [
        "https://fansite.example/posts/seori-leak-3",
        "https://fansite.example/posts/recipes",
    ]
    assert items[0].title == "Leaked pictures"
    assert items[0].media == ("https://fansite.example/img/3.jpg",)


def test_a_gzipped_sitemap_is_inflated() -> None:
    items = parse_sitemap(gzip.compress(site_file("sitemap.xml")), BASE)
    assert len(items) == 2


def test_a_sitemap_index_is_refused_with_what_to_do() -> None:
    body = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <sitemap><loc>https://source.example/s1.xml</loc></sitemap></sitemapindex>"""
    with pytest.raises(ParseError, match="add its child sitemaps as sources"):
        parse_sitemap(body, BASE)


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<urlset><url><loc>&lol2;</loc></url></urlset>",
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<urlset><url><loc>&x;</loc></url></urlset>",
        b"<urlset><url><loc>https://a.example/</loc>",
        b"<rss><channel/></rss>",
    ],
)
def test_entities_dtds_and_broken_xml_are_refused(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_sitemap(body, BASE)


def test_a_listing_page_gives_the_links_its_selector_picks() -> None:
    items = parse_html_listing(site_file("listing.html"), BASE, "article.post")
    assert [i.url for i in items] == [
        "https://board.example/101",
        "https://board.example/102",
        "https://videos.example/watch/seori-1?utm_campaign=board",
        "https://source.example/board/103",  # relative, resolved; the nav link is not a post
    ]
    assert items[0].text == "Seori AI photos"
    assert items[0].media == ("https://source.example/thumbs/101.jpg",)
    assert items[3].title == "미나 합성"  # the link's title attribute, decoded as UTF-8


def test_a_selector_on_the_links_themselves_works_too() -> None:
    items = parse_html_listing(site_file("listing.html"), BASE, "a.title")
    assert len(items) == 4 and items[0].text == "Seori AI photos"


def test_the_content_type_charset_decides_the_encoding() -> None:
    body = "<a class=p href='/x'>서리</a>".encode("euc-kr")
    assert parse_html_listing(body, BASE, "a.p", charset="euc-kr")[0].text == "서리"


@pytest.mark.parametrize("selector", ["", "a[", "::nonsense(", "a >"])
def test_a_selector_that_cannot_be_parsed_is_refused(selector: str) -> None:
    with pytest.raises(ParseError):
        selector_compile(selector)


def test_a_telegram_preview_gives_each_message_with_text_and_media() -> None:
    items = parse_telegram(site_file("telegram.html"), "https://t.me/s/kfake_leaks")
    assert [i.url for i in items] == [
        "https://t.me/kfake_leaks/12",
        "https://t.me/kfake_leaks/13",  # no date link: built from data-post
    ]
    assert items[0].text == "서리 딥페이크 모음"
    assert items[0].media == ("https://cdn4.telesco.pe/file/abc.jpg",)
    assert items[1].media == ("https://cdn4.telesco.pe/file/v13.mp4",)


def test_a_json_listing_follows_its_items_path() -> None:
    paths = JsonPaths("data.children.*.data", "url", ("title", "selftext"))
    items = parse_json_listing(site_file("new.json"), BASE, paths)
    assert [i.url for i in items] == [
        "https://imgs.example/a/77.jpg",
        "https://imgs.example/a/78.jpg",
    ]  # the third item has no URL and a number for a title: skipped, no error
    assert items[0].title == "Is this Seori? looks AI"
    assert items[1].text == "real ones"
    permalinks = parse_json_listing(
        site_file("new.json"), BASE, JsonPaths("data.children.*.data", "permalink")
    )
    assert permalinks[0].url == "https://source.example/r/kpopfakes/comments/77/"


@pytest.mark.parametrize(
    ("body", "paths", "why"),
    [
        (b"{not json", JsonPaths("a", "url"), "Not JSON"),
        (b"{}", JsonPaths("", "url"), "where the items are"),
        (b"{}", JsonPaths("a..b", "url"), "keys separated by dots"),
        (b"{}", JsonPaths("a", ""), "which key"),
        (b"[" * 100000 + b"]" * 100000, JsonPaths("a", "url"), "Not JSON"),
    ],
)
def test_a_bad_json_listing_or_path_is_refused_with_a_reason(
    body: bytes, paths: JsonPaths, why: str
) -> None:
    with pytest.raises(ParseError, match=why):
        parse_json_listing(body, BASE, paths)
