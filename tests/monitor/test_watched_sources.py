"""The Sources page and the source settings: validation with reasons (never a 500), roles,
audit events, the per-host gate, the seen-set, and the "discovered" triage filter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.intake.models import Finding, FindingSource
from cases.intake.monitor.models import Discovery, WatchedSource, WatchedSourceState
from cases.intake.services import source_polls
from cases.intake.services.source_polls import watched_source_poll, watched_sources_due
from cases.intake.services.watched_sources import WatchedSourceError, watched_source_save
from cases.kernel.models import AuditEvent
from tests.factories import make_finding

pytestmark = pytest.mark.django_db


def _save(agency, actor, **fields):  # type: ignore[no-untyped-def]
    values = {
        "name": "Clip feed",
        "kind": "feed",
        "url": "https://videos.example/feed.xml",
        "interval_minutes": 60,
        **fields,
    }
    return watched_source_save(agency=agency, actor=actor, **values)


@pytest.mark.parametrize(
    ("fields", "field", "why"),
    [
        ({"url": "http://10.0.0.5/feed"}, "url", "cannot be polled"),
        ({"url": "http://169.254.169.254/latest"}, "url", "cannot be polled"),
        ({"url": "ftp://videos.example/feed"}, "url", "cannot be polled"),
        ({"url": "https://videos.example:8080/feed"}, "url", "cannot be polled"),
        ({"kind": "html"}, "selector", "CSS selector"),
        ({"kind": "html", "selector": "a["}, "selector", "CSS selector"),
        ({"kind": "json"}, "json_items_path", "where the items are"),
        ({"kind": "template"}, "url", "{alias}"),
        ({"kind": "template", "url": "https://{alias}.example/", "selector": "a"}, "url", "host"),
        ({"kind": "template", "url": "http://[::1/{alias}", "selector": "a"}, "url", "IPv6"),
        ({"kind": "telegram", "url": "https://\u2100.example/s/abc"}, "url", "NFKC"),
        ({"url": "https://videos.example/search?q={alias}"}, "url", "Only the kind"),
        ({"kind": "telegram", "url": "https://t.me/s/x"}, "url", "t.me/s/channel_name"),
        ({"interval_minutes": 1}, "interval_minutes", "Poll every"),
        ({"kind": "rss"}, "kind", "Choose one"),
        ({"name": "  "}, "name", "name"),
    ],
)
def test_a_setting_that_cannot_be_used_is_refused_with_its_field(  # type: ignore[no-untyped-def]
    agency, alice, fields, field, why
) -> None:
    with pytest.raises(WatchedSourceError, match=why) as raised:
        _save(agency, alice, **fields)
    assert raised.value.field == field
    assert not WatchedSource.objects.exists()


def test_a_telegram_channel_link_becomes_its_preview_page(agency, alice) -> None:  # type: ignore[no-untyped-def]
    source = _save(agency, alice, kind="telegram", url="https://t.me/kfake_leaks")
    assert source.url == "https://t.me/s/kfake_leaks" and source.host == "t.me:443"


def test_changes_are_audited_with_old_and_new_values(agency, alice) -> None:  # type: ignore[no-untyped-def]
    source = _save(agency, alice)
    assert source.next_due_at is not None  # the first poll is due at once
    _save(agency, alice, source=source, interval_minutes=120)
    with pytest.raises(WatchedSourceError, match="already has this name"):
        _save(agency, alice, name="Other")
        _save(agency, alice, source=WatchedSource.objects.get(name="Other"), name="Clip feed")
    events = AuditEvent.objects.filter(agency=agency, action__startswith="watched_source.")
    actions = list(events.order_by("seq").values_list("action", flat=True))
    assert actions == ["watched_source.created", "watched_source.updated", "watched_source.created"]
    updated = events.get(action="watched_source.updated")
    assert updated.data["changed"] == {"interval_minutes": {"from": 60, "to": 120}}


def test_the_sources_page_shows_counts_and_the_error_state(client, agency, bob) -> None:  # type: ignore[no-untyped-def]
    source = _save(agency, bob)
    WatchedSource.objects.filter(pk=source.pk).update(
        state=WatchedSourceState.FAILING,
        consecutive_errors=3,
        last_error="https://videos.example/feed.xml: HTTP 503",
        items_seen=41,
        candidates=7,
        findings_created=5,
        errors_total=9,
    )
    client.force_login(bob)
    page = client.get(reverse("watched_source_list")).content.decode()
    assert "Failing" in page and "3 errors in a row" in page
    for count in ("41", "7", "5", "9"):
        assert f'<td class="num">{count}</td>' in page
    detail = client.get(reverse("watched_source_detail", args=[source.pk])).content.decode()
    assert "This source is failing." in detail and "HTTP 503" in detail


def test_the_sources_page_speaks_korean(client, agency, bob) -> None:  # type: ignore[no-untyped-def]
    _save(agency, bob)
    client.force_login(bob)
    page = client.get(reverse("watched_source_list"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "감시 소스" in page


def test_a_viewer_cannot_see_or_change_sources(client, agency, alice, carol) -> None:  # type: ignore[no-untyped-def]
    source = _save(agency, alice)
    client.force_login(carol)
    assert client.get(reverse("watched_source_list")).status_code == 403
    assert client.post(reverse("watched_source_delete", args=[source.pk])).status_code == 403
    assert WatchedSource.objects.filter(pk=source.pk).exists()


def test_the_form_shows_the_reason_and_saves_a_good_source(client, agency, bob) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    url = reverse("watched_source_create")
    bad = {"name": "Board", "kind": "html", "url": "https://board.example/", "interval_minutes": 60}
    response = client.post(url, {**bad, "selector": "a["})
    assert response.status_code == 200 and "CSS selector" in response.content.decode()
    response = client.post(url, {**bad, "interval_minutes": "soon"})
    assert response.status_code == 200 and not WatchedSource.objects.exists()
    response = client.post(url, {**bad, "selector": "article.post", "active": "on"})
    source = WatchedSource.objects.get()
    assert response.status_code == 302 and source.selector == "article.post" and source.active
    edit = reverse("watched_source_update", args=[source.pk])
    client.post(edit, {**bad, "selector": "article.post", "interval_minutes": 30})
    source.refresh_from_db()
    assert source.interval_minutes == 30 and not source.active


def test_delete_needs_the_box_ticked_and_keeps_the_reasons(client, agency, bob) -> None:  # type: ignore[no-untyped-def]
    source = _save(agency, bob)
    finding = make_finding(agency, "https://videos.example/watch/1", actor=bob)
    Discovery.objects.create(
        agency=agency,
        source=source,
        source_name=source.name,
        finding=finding,
        item_url=finding.url,
        reason="alias 'Seori' in title",
    )
    client.force_login(bob)
    url = reverse("watched_source_delete", args=[source.pk])
    client.post(url)
    assert WatchedSource.objects.filter(pk=source.pk).exists()
    assert client.post(url, {"confirm": "yes"}).status_code == 302
    assert not WatchedSource.objects.exists()
    assert AuditEvent.objects.filter(action="watched_source.deleted").count() == 1
    page = client.get(reverse("finding_detail", args=[finding.pk])).content.decode()
    assert "alias &#x27;Seori&#x27; in title" in page and "Clip feed" in page


def test_poll_now_makes_the_source_due(client, agency, bob) -> None:  # type: ignore[no-untyped-def]
    source = _save(agency, bob)
    later = timezone.now() + timedelta(hours=5)
    WatchedSource.objects.filter(pk=source.pk).update(next_due_at=later)
    assert source.pk not in watched_sources_due()
    client.force_login(bob)
    client.post(reverse("watched_source_poll", args=[source.pk]))
    assert source.pk in watched_sources_due()
    assert AuditEvent.objects.filter(action="watched_source.poll_requested").exists()


def test_the_per_host_gate_spaces_polls_and_caps_them(settings, agency, alice, web) -> None:  # type: ignore[no-untyped-def]
    settings.MONITOR_HOST_MIN_INTERVAL_S = 30
    first = _save(agency, alice, name="A", url=web.url("/feed.xml"))
    second = _save(agency, alice, name="B", url=web.url("/atom.xml"))
    now = timezone.now()
    assert watched_source_poll(source_id=first.pk, now=now).status == "polled"
    assert watched_source_poll(source_id=second.pk, now=now).status == "deferred"
    second.refresh_from_db()
    assert second.next_due_at == now + timedelta(seconds=30)
    assert len(web.requests_to("/atom.xml")) == 0
    assert watched_source_poll(source_id=second.pk, now=now + timedelta(seconds=30)).status == (
        "polled"
    )
    # The cap: with no interval, a host already polled by two workers waits for them.
    settings.MONITOR_HOST_MIN_INTERVAL_S = 0
    third = _save(agency, alice, name="C", url=web.url("/listing.html"), kind="html", selector="a")
    later = now + timedelta(hours=3)
    WatchedSource.objects.filter(pk__in=[first.pk, second.pk]).update(polling_since=later)
    assert watched_source_poll(source_id=third.pk, now=later).status == "deferred"
    settings.MONITOR_HOST_CONCURRENCY = 3
    assert watched_source_poll(source_id=third.pk, now=later + timedelta(seconds=5)).status == (
        "polled"
    )


def test_items_already_seen_are_not_processed_again_and_the_set_is_bounded(  # type: ignore[no-untyped-def]
    settings, agency, alice, seori, web
) -> None:
    settings.MONITOR_SEEN_MAX = 3
    source = _save(agency, alice, url=web.url("/feed.xml"))
    now = timezone.now()
    outcome = watched_source_poll(source_id=source.pk, now=now)
    assert (outcome.items_seen, outcome.findings) == (4, 2)
    source.refresh_from_db()
    assert len(source.seen_keys) == 3  # the newest three of four
    # The feed changes (no 304): the three remembered items are skipped, the forgotten
    # oldest is seen again but its finding already exists, so nothing new is recorded.
    web.serve("/feed.xml", "application/rss+xml", web.documents["/feed.xml"][1] + b"\n")
    outcome = watched_source_poll(source_id=source.pk, now=now + timedelta(hours=2))
    assert (outcome.items_seen, outcome.findings) == (1, 0)
    assert Finding.objects.count() == 2


def test_loopback_without_the_test_switch_is_a_refused_poll(settings, agency, alice, web) -> None:  # type: ignore[no-untyped-def]
    settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = False
    source = WatchedSource.objects.create(
        agency=agency, name="Sneaky", kind="feed", url=web.url("/feed.xml"), host="x"
    )
    outcome = watched_source_poll(source_id=source.pk)
    source.refresh_from_db()
    assert outcome.status == "failed" and source.state == WatchedSourceState.FAILING
    assert "loopback" in source.last_error
    assert web.requests == []


def test_triage_filters_discovered_findings(client, agency, bob) -> None:  # type: ignore[no-untyped-def]
    make_finding(agency, "https://videos.example/watch/typed", actor=bob)
    make_finding(
        agency, "https://videos.example/watch/found", actor=None, source=FindingSource.MONITOR
    )
    client.force_login(bob)
    page = client.get(reverse("finding_list"), {"source": "monitor"}).content.decode()
    assert "watch/found" in page and "watch/typed" not in page
    assert ">Discovered<" in page  # the filter's choice and the row's source label


def test_a_search_url_with_no_artist_names_says_so(agency, alice, web) -> None:  # type: ignore[no-untyped-def]
    source = _save(
        agency, alice, kind="template", url=web.url("/search?q={alias}"), selector="li a"
    )
    outcome = watched_source_poll(source_id=source.pk)
    source.refresh_from_db()
    assert outcome.status == "polled" and web.requests == []
    assert source.last_result.startswith("nothing to fetch")


def test_a_crash_mid_poll_releases_the_source_with_an_error(  # type: ignore[no-untyped-def]
    monkeypatch, agency, alice, seori, web
) -> None:
    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database went away")

    monkeypatch.setattr(source_polls, "_discover", boom)
    source = _save(agency, alice, url=web.url("/feed.xml"))
    with pytest.raises(RuntimeError):
        watched_source_poll(source_id=source.pk)
    source.refresh_from_db()
    assert source.polling_since is None and source.state == WatchedSourceState.FAILING
    assert "RuntimeError" in source.last_error and source.consecutive_errors == 1


SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>/sitemap-old.xml</loc><lastmod>2026-01-01</lastmod></sitemap>
  <sitemap><loc>/sitemap.xml</loc><lastmod>2026-12-01</lastmod></sitemap>
  <sitemap><loc>http://10.0.0.5/sitemap-internal.xml</loc><lastmod>2026-06-01</lastmod></sitemap>
</sitemapindex>"""


def test_a_sitemap_index_is_followed_to_its_newest_children(  # type: ignore[no-untyped-def]
    settings, agency, alice, seori, web
) -> None:
    settings.MONITOR_SITEMAP_CHILDREN = 2
    web.serve("/sitemap_index.xml", "application/xml", SITEMAP_INDEX)
    web.serve("/sitemap-old.xml", "application/xml", b"<urlset/>")
    source = _save(agency, alice, kind="sitemap", url=web.url("/sitemap_index.xml"))
    now = timezone.now()
    outcome = watched_source_poll(source_id=source.pk, now=now)
    # The newest two: /sitemap.xml, then the internal one, which the policy refuses.
    assert outcome.findings == 1
    assert web.requests_to("/sitemap-old.xml") == []
    source.refresh_from_db()
    assert source.state == WatchedSourceState.OK
    assert "10.0.0.5" in source.last_error  # shown, without backing off
    children = source.validators[web.url("/sitemap_index.xml")]["children"]
    assert children == [web.url("/sitemap.xml"), "http://10.0.0.5/sitemap-internal.xml"]
    # The index unchanged (304): its children are still fetched, conditionally.
    watched_source_poll(source_id=source.pk, now=now + timedelta(hours=2))
    assert web.requests_to("/sitemap_index.xml")[-1].get("If-Modified-Since")
    assert web.requests_to("/sitemap.xml")[-1].get("If-Modified-Since")
    assert len(web.requests_to("/sitemap.xml")) == 2


def test_retry_after_is_honoured_when_longer_than_the_backoff(agency, alice, web) -> None:  # type: ignore[no-untyped-def]
    web.failing["*"] = 429
    web.failing_headers.append(("Retry-After", "7200"))
    source = _save(agency, alice, url=web.url("/feed.xml"), interval_minutes=10)
    now = timezone.now()
    watched_source_poll(source_id=source.pk, now=now)
    source.refresh_from_db()
    assert source.next_due_at - now == timedelta(hours=2)  # not the 20 minutes of backoff
    assert "HTTP 429" in source.last_error


def test_a_search_url_rotates_through_every_name(settings, agency, alice, seori, mina, web) -> None:  # type: ignore[no-untyped-def]
    settings.MONITOR_TEMPLATE_MAX_URLS = 3  # Seori has four names, Mina two: six in all
    source = _save(
        agency, alice, kind="template", url=web.url("/search?q={alias}"), selector="li a"
    )
    now = timezone.now()
    for poll in range(2):
        watched_source_poll(source_id=source.pk, now=now + timedelta(hours=2 * poll))
    asked = [headers for path, headers in web.requests if path.startswith("/search")]
    queries = [path.split("q=", 1)[1] for path, _h in web.requests if path.startswith("/search")]
    assert len(asked) == 6 and len(set(queries)) == 6  # every name once, none twice
    source.refresh_from_db()
    assert source.template_cursor == 0  # round the roster, back at the start
    assert Finding.objects.filter(canonical_url="https://tube.example/r/Seori").exists()
