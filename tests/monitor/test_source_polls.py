"""Done-when 1 of issue 13: the scheduled poll over a local fixture web (feeds, a sitemap,
a listing page, a Telegram-style preview page, a JSON listing, a search URL per alias)
creates the expected findings with reasons, skips unchanged feeds (304), backs off a
failing host, never creates a duplicate, and a later poll creates only the new items."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agencyguard.celery import app
from cases.intake.models import Finding, FindingSource
from cases.intake.monitor.models import Discovery, WatchedSource, WatchedSourceState
from cases.intake.services.source_polls import watched_source_poll
from cases.intake.services.watched_sources import watched_source_save
from cases.intake.tasks import watched_sources_poll_due_task
from cases.kernel.models import AuditEvent
from cases.notices.models import Notice
from tests.monitor.web import feed_with_new_item, fixture_web

pytestmark = pytest.mark.django_db

# URL -> reason, for the first poll.
EXPECTED = {
    "https://videos.example/watch/seori-1": "alias 'Seori' in title",
    "https://clips.example/v/2": "alias '서리' in text",
    "https://gossip.example/2026/12/kim-seo-ri-face-swap": "alias 'Kim Seo-ri' in text",
    "https://fansite.example/posts/seori-leak-3": "alias 'Seori' in URL",
    "https://board.example/101": "alias 'Seori' in text",
    "https://t.me/kfake_leaks/12": "alias '서리' in text",
    "https://imgs.example/a/77.jpg": "alias 'Seori' in title",
    "https://tube.example/r/Seori": "alias 'Seori' in text",
}


def _sources(agency, alice, web):  # type: ignore[no-untyped-def]
    specs = [
        ("Clip feed", "feed", web.url("/feed.xml"), {}),
        ("Gossip atom", "feed", web.url("/atom.xml"), {}),
        ("Fan sitemap", "sitemap", web.url("/sitemap.xml"), {}),
        ("Board", "html", web.url("/listing.html"), {"selector": "article.post"}),
        ("Leaks channel", "telegram", web.url("/s/kfake_leaks"), {}),
        (
            "Subreddit",
            "json",
            web.url("/r/kpopfakes/new.json"),
            {
                "json_items_path": "data.children.*.data",
                "json_url_key": "url",
                "json_text_keys": "title, selftext",
            },
        ),
        ("Search", "template", web.url("/search?q={alias}"), {"selector": "li.result a"}),
    ]
    return {
        name: watched_source_save(
            agency=agency, actor=alice, name=name, kind=kind, url=url, interval_minutes=60, **extra
        )
        for name, kind, url, extra in specs
    }


def _findings() -> dict[str, str]:
    return {
        f.canonical_url: "; ".join(d.reason for d in f.discoveries.order_by("pk"))
        for f in Finding.objects.filter(source=FindingSource.MONITOR)
    }


def _make_due() -> None:
    WatchedSource.objects.update(next_due_at=timezone.now() - timedelta(seconds=1))


def test_the_scheduled_poll_over_the_fixture_web(settings, agency, alice, seori, mina, web):  # type: ignore[no-untyped-def]
    settings.MONITOR_HOST_MIN_INTERVAL_S = 0  # every source of the fixture web is one host
    sources = _sources(agency, alice, web)

    assert watched_sources_poll_due_task.delay().get() == len(sources)

    found = _findings()
    board_103 = web.url("/board/103")  # a relative link, resolved against the page
    assert found == {
        **EXPECTED,
        board_103: "alias '미나' in title",
        # The board's repost (tracking parameters) is the feed's finding, found twice.
        "https://videos.example/watch/seori-1": "alias 'Seori' in title; alias 'Seori' in text",
    }
    first = Finding.objects.count()
    assert first == len(EXPECTED) + 1
    # The shared copy of seori-1 (tracking parameters) is the same finding, not a second.
    assert Finding.objects.filter(canonical_url="https://videos.example/watch/seori-1").count() == 1
    feed = WatchedSource.objects.get(pk=sources["Clip feed"].pk)
    assert feed.state == WatchedSourceState.OK and feed.consecutive_errors == 0
    assert (feed.items_seen, feed.candidates, feed.findings_created) == (4, 2, 2)
    board = WatchedSource.objects.get(name="Board")
    assert (board.items_seen, board.candidates, board.findings_created) == (4, 3, 2)
    repost = Discovery.objects.get(source=board, finding__canonical_url__endswith="seori-1")
    assert not repost.created_finding
    assert feed.validators[web.url("/feed.xml")]["etag"]
    mina_artist = Finding.objects.get(canonical_url="https://t.me/kfake_leaks/12").artists.get()
    assert mina_artist == seori
    discovery = Discovery.objects.get(finding__canonical_url="https://clips.example/v/2")
    assert discovery.media_urls == ["https://clips.example/media/2.mp4"]
    assert discovery.created_finding and discovery.source_name == "Clip feed"
    events = AuditEvent.objects.filter(agency=agency, action="watched_source.discovered")
    assert events.count() == len(EXPECTED) + 2  # one per discovery, the repost too
    assert not Notice.objects.exists()  # a discovery never sends (or drafts) a notice

    # Second poll: the feeds answer 304 to the conditional request; nothing is created.
    _make_due()
    watched_sources_poll_due_task.delay()
    conditional = web.requests_to("/feed.xml")[-1]
    assert conditional.get("If-None-Match") == feed.validators[web.url("/feed.xml")]["etag"]
    feed.refresh_from_db()
    assert feed.last_result == "not modified (304)"
    assert (feed.items_seen, feed.candidates, feed.findings_created) == (4, 2, 2)
    sitemap = WatchedSource.objects.get(name="Fan sitemap")
    assert web.requests_to("/sitemap.xml")[-1].get("If-Modified-Since")
    assert sitemap.last_result == "not modified (304)"
    assert Finding.objects.count() == first
    assert events.count() == len(EXPECTED) + 2

    # A later poll with one new item in the feed creates only that finding.
    web.serve("/feed.xml", "application/rss+xml", feed_with_new_item())
    _make_due()
    watched_sources_poll_due_task.delay()
    assert set(_findings()) - set(found) == {"https://videos.example/watch/mina-9"}
    assert _findings()["https://videos.example/watch/mina-9"] == "alias 'Mina' in title"
    feed.refresh_from_db()
    assert (feed.items_seen, feed.candidates, feed.findings_created) == (5, 3, 3)
    assert Finding.objects.count() == first + 1
    # Never a duplicate, whatever was polled how often.
    hashes = list(Finding.objects.values_list("canonical_hash", flat=True))
    assert len(hashes) == len(set(hashes))
    assert not Notice.objects.exists()


def test_a_failing_host_backs_off_and_shows_its_error(settings, agency, alice, seori):  # type: ignore[no-untyped-def]
    with fixture_web() as down:
        settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = True
        settings.MONITOR_ALLOWED_PORTS = [down.port]
        down.failing["*"] = 503
        source = watched_source_save(
            agency=agency,
            actor=alice,
            name="Down",
            kind="feed",
            url=down.url("/feed.xml"),
            interval_minutes=10,
        )
        start = timezone.now()
        outcome = watched_source_poll(source_id=source.pk, now=start)
        source.refresh_from_db()
        assert outcome.status == "failed"
        assert source.state == WatchedSourceState.FAILING
        assert "HTTP 503" in source.last_error
        assert source.consecutive_errors == 1 and source.errors_total == 1
        first_wait = source.next_due_at - start
        assert first_wait == timedelta(minutes=20)
        # Not due before its backoff: the sweep leaves it alone.
        assert watched_source_poll(
            source_id=source.pk, now=start + timedelta(minutes=5)
        ).status == ("skipped")
        again = source.next_due_at
        watched_source_poll(source_id=source.pk, now=again)
        source.refresh_from_db()
        assert source.consecutive_errors == 2
        assert source.next_due_at - again == timedelta(minutes=40)  # the wait doubles
        # The host is back: one good poll clears the error state.
        down.failing.clear()
        watched_source_poll(source_id=source.pk, now=source.next_due_at)
        source.refresh_from_db()
        assert source.state == WatchedSourceState.OK and source.consecutive_errors == 0
        assert source.last_error == "" and source.errors_total == 2
        assert Finding.objects.filter(source=FindingSource.MONITOR).count() == 2


def test_beat_schedules_the_sweep_and_the_polls_go_to_the_capture_queue(settings) -> None:  # type: ignore[no-untyped-def]
    entry = settings.CELERY_BEAT_SCHEDULE["monitor-poll-due"]
    assert entry["task"] == watched_sources_poll_due_task.name
    assert entry["task"] in app.tasks and entry["schedule"] == 60.0
    route = app.amqp.router.route({}, "cases.intake.tasks.watched_source_poll_task")
    assert route["queue"].name == "capture"
