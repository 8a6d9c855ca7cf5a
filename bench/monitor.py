"""Watched sources: items per second through a whole poll (conditional fetch through the
safe fetcher, parse, seen-set, alias recognition, findings with reasons, the source's
state) from a local fixture web, next to parsing the same documents alone.

The fixture web (tests/monitor/web.py) serves SOURCES feeds of 500 items each over
loopback (the test switch, as the integration test uses it); about one item in twenty names
one of ARTISTS artists, each with four names (stage, Hangul, Latin, an alias). Each source
is polled once (every item is new), so the figure includes the finding and discovery
writes of the recognised items."""

from __future__ import annotations

import time

from common import emit, note, setup_django

setup_django()

from django.conf import settings  # noqa: E402

from cases.agency.models import Artist  # noqa: E402
from cases.agency.services.tenancy import agency_create  # noqa: E402
from cases.intake.models import Finding  # noqa: E402
from cases.intake.monitor.parsers import parse_feed  # noqa: E402
from cases.intake.services.source_polls import watched_source_poll  # noqa: E402
from cases.intake.services.watched_sources import watched_source_save  # noqa: E402
from tests.monitor.web import fixture_web  # noqa: E402

SOURCES = 10
ITEMS = 500
ARTISTS = 50


def _feed(source: int) -> bytes:
    items = []
    for n in range(ITEMS):
        artist = (source * ITEMS + n) % ARTISTS
        named = n % 20 == 0
        title = f"Bench Star {artist} deepfake clip" if named else f"Daily upload number {n}"
        items.append(
            f"<item><title>{title}</title>"
            f"<link>https://bench-videos.example/s{source}/watch/{n}</link>"
            f"<description>&lt;p&gt;Posted by user{n} in board {source}&lt;/p&gt;</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def main() -> None:
    agency = agency_create(name="Bench Monitor", slug="bench-monitor")
    Artist.objects.bulk_create(
        Artist(
            agency=agency,
            stage_name=f"Bench Star {n}",
            name_hangul=f"벤치{n}스타",
            name_latin=f"Bench Latin {n}",
            aliases=[f"BStar{n}"],
        )
        for n in range(ARTISTS)
    )
    documents = [_feed(n) for n in range(SOURCES)]
    with fixture_web() as web:
        settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = True
        settings.MONITOR_ALLOWED_PORTS = [web.port]
        settings.MONITOR_HOST_MIN_INTERVAL_S = 0
        sources = []
        for n, body in enumerate(documents):
            web.serve(f"/bench/{n}.xml", "application/rss+xml", body)
            sources.append(
                watched_source_save(
                    agency=agency,
                    actor=None,
                    name=f"bench {n}",
                    kind="feed",
                    url=web.url(f"/bench/{n}.xml"),
                    interval_minutes=60,
                )
            )
        started = time.perf_counter()
        seen = 0
        for source in sources:
            seen += watched_source_poll(source_id=source.pk).items_seen
        elapsed = time.perf_counter() - started
    findings = Finding.objects.filter(agency=agency).count()
    if seen != SOURCES * ITEMS or findings != SOURCES * ITEMS // 20:
        raise SystemExit(f"unexpected poll result: {seen} items, {findings} findings")
    parse_started = time.perf_counter()
    for n, body in enumerate(documents):
        parse_feed(body, f"http://127.0.0.1/bench/{n}.xml")
    parse_elapsed = time.perf_counter() - parse_started
    note(
        f"{seen} items from {SOURCES} feeds, {findings} findings, {ARTISTS} artists: "
        f"poll {elapsed:.2f} s, feedparser alone {parse_elapsed:.2f} s"
    )
    emit("monitor_items_per_s", seen / elapsed, "items/s")
    emit("monitor_parse_only_items_per_s", seen / parse_elapsed, "items/s")
    emit("monitor_poll_vs_parse", (seen / elapsed) / (seen / parse_elapsed), "ratio")


if __name__ == "__main__":
    main()
