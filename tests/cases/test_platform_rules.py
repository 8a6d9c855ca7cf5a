"""Issue 12: each platform's share parameters, from the agency's own platform table, are
stripped before deduplication, so the share variants of one link are one finding."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from cases.agency.models import Platform
from cases.agency.seeds import PLATFORMS, SHARE_PARAMS
from cases.agency.services.platforms import PlatformIndex
from cases.intake.canonical import UrlRules, canonicalize_url
from cases.intake.models import Finding
from cases.intake.services.findings import finding_record
from cases.intake.services.imports import import_job_create, import_job_run
from cases.intake.services.url_rules import url_rules

pytestmark = pytest.mark.django_db

# Per seeded platform: share variants of one link (all must collapse into the first's
# canonical form) and a URL whose content-bearing parameters must all survive.
SHARE_CASES: dict[str, tuple[list[str], str, str]] = {
    "YouTube": (
        [
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&feature=share&si=AbC",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42s&pp=ygUE",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&ab_channel=Someone",
        ],
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PL123&index=2",
        "https://www.youtube.com/watch?index=2&list=PL123&v=dQw4w9WgXcQ",
    ),
    "X (Twitter)": (
        [
            "https://x.com/someone/status/1790000000000000000",
            "https://x.com/someone/status/1790000000000000000?s=20&t=Ab-cD",
            "https://x.com/someone/status/1790000000000000000?s=46",
        ],
        "https://x.com/search?q=deepfake&f=live",
        "https://x.com/search?f=live&q=deepfake",
    ),
    "Instagram": (
        [
            "https://www.instagram.com/reel/C1a2B3c4D5e/",
            "https://www.instagram.com/reel/C1a2B3c4D5e/?igsh=MTc4MmM1YmI2Ng==",
            "https://www.instagram.com/reel/C1a2B3c4D5e/?igshid=YmMyMTA2M2Y=&hl=ko",
        ],
        "https://www.instagram.com/p/C1a2B3c4D5e/?img_index=3",
        "https://www.instagram.com/p/C1a2B3c4D5e/?img_index=3",
    ),
    "Facebook": (
        [
            "https://www.facebook.com/watch/?v=1234567890",
            "https://www.facebook.com/watch/?v=1234567890&mibextid=Nif5oz",
            "https://www.facebook.com/watch/?v=1234567890&rdid=AbC&share_url=x&ref=sharing"
            "&fbclid=IwAR0",
        ],
        "https://www.facebook.com/permalink.php?story_fbid=111&id=222",
        "https://www.facebook.com/permalink.php?id=222&story_fbid=111",
    ),
    "TikTok": (
        [
            "https://www.tiktok.com/@someone/video/7300000000000000000",
            "https://www.tiktok.com/@someone/video/7300000000000000000"
            "?is_from_webapp=1&sender_device=pc",
            "https://www.tiktok.com/@someone/video/7300000000000000000"
            "?is_from_webapp=1&sender_device=pc&web_id=7311111111111111111",
            "https://www.tiktok.com/@someone/video/7300000000000000000"
            "?_r=1&_t=8hKx&u_code=abc&share_item_id=73&social_sharing=1",
        ],
        "https://www.tiktok.com/search?q=yuna",
        "https://www.tiktok.com/search?q=yuna",
    ),
    "Reddit": (
        [
            "https://www.reddit.com/r/kpop/comments/abc123/title/",
            "https://www.reddit.com/r/kpop/comments/abc123/title/?share_id=Zz&utm_medium=android_app"
            "&utm_source=share",
            "https://www.reddit.com/r/kpop/comments/abc123/title/?rdt=51234&sh=1",
        ],
        "https://www.reddit.com/r/kpop/comments/abc123/title/?context=3",
        "https://www.reddit.com/r/kpop/comments/abc123/title/?context=3",
    ),
    "Telegram": (
        ["https://t.me/channel/123", "https://t.me/channel/123?utm_source=share"],
        "https://t.me/channel/123?single",
        "https://t.me/channel/123?single=",
    ),
    "Naver": (
        [
            "https://blog.naver.com/someone/223000000000",
            "https://blog.naver.com/someone/223000000000?trackingCode=blog_bloghome_searchlist",
            "https://blog.naver.com/someone/223000000000?fromRss=true&trackingCode=rss",
        ],
        "https://blog.naver.com/PostView.naver?blogId=someone&logNo=223000000000",
        "https://blog.naver.com/PostView.naver?blogId=someone&logNo=223000000000",
    ),
    "Google Search": (
        [
            "https://www.google.com/search?q=yuna+deepfake",
            "https://www.google.com/search?q=yuna+deepfake&sca_esv=1&ei=AbC&ved=0ahUKE&oq=yuna",
        ],
        "https://www.google.com/search?q=yuna+deepfake&tbm=isch&start=20",
        "https://www.google.com/search?q=yuna%20deepfake&start=20&tbm=isch",
    ),
    "Pinterest": (
        [
            "https://www.pinterest.com/pin/123456789/",
            "https://www.pinterest.com/pin/123456789/?invite_code=abc&sender=42&sfo=1",
        ],
        "https://www.pinterest.com/search/pins/?q=yuna",
        "https://www.pinterest.com/search/pins/?q=yuna",
    ),
    "Tumblr": (
        [
            "https://www.tumblr.com/someone/123456",
            "https://www.tumblr.com/someone/123456?source=share",
        ],
        "https://www.tumblr.com/search/yuna?v=1",
        "https://www.tumblr.com/search/yuna?v=1",
    ),
    # Platforms seeded without share parameters: only the global tracking ones go.
    "Discord": (
        ["https://discord.com/invite/abc", "https://discord.com/invite/abc?utm_source=x"],
        "https://discord.com/invite/abc?event=9",
        "https://discord.com/invite/abc?event=9",
    ),
    "Daum / Kakao": (
        ["https://someone.tistory.com/12", "https://someone.tistory.com/12?fbclid=1"],
        "https://someone.tistory.com/12?category=3",
        "https://someone.tistory.com/12?category=3",
    ),
    "DC Inside": (
        [
            "https://gall.dcinside.com/board/view/?id=kpop&no=1",
            "https://gall.dcinside.com/board/view/?id=kpop&no=1&utm_source=x",
        ],
        "https://gall.dcinside.com/board/lists/?id=kpop&page=2",
        "https://gall.dcinside.com/board/lists/?id=kpop&page=2",
    ),
    "Pornhub": (
        [
            "https://www.pornhub.com/view_video.php?viewkey=ph1",
            "https://www.pornhub.com/view_video.php?viewkey=ph1&utm_campaign=x",
        ],
        "https://www.pornhub.com/view_video.php?viewkey=ph1&pkey=9",
        "https://www.pornhub.com/view_video.php?pkey=9&viewkey=ph1",
    ),
    "XVideos": (
        ["https://www.xvideos.com/video123/x", "https://www.xvideos.com/video123/x?gclid=1"],
        "https://www.xvideos.com/?k=yuna&p=2",
        "https://www.xvideos.com/?k=yuna&p=2",
    ),
    "Cloudflare (hosting provider lookup)": (
        ["https://www.cloudflare.com/a", "https://www.cloudflare.com/a?utm_source=x"],
        "https://www.cloudflare.com/a?page=2",
        "https://www.cloudflare.com/a?page=2",
    ),
}


def test_every_seeded_platform_has_its_share_test_and_seeds_only_known_names() -> None:
    seeded = {name for name, *_rest in PLATFORMS}
    assert set(SHARE_CASES) == seeded  # a new seeded platform needs its case here
    assert set(SHARE_PARAMS) <= seeded
    for params in SHARE_PARAMS.values():
        assert all(p == p.lower() for p in params)  # matched lower-cased


@pytest.mark.parametrize("name", sorted(SHARE_CASES))
def test_share_variants_of_a_link_are_one_finding(name: str, agency, bob) -> None:  # type: ignore[no-untyped-def]
    variants, content_url, content_canonical = SHARE_CASES[name]
    platform = Platform.objects.get(agency=agency, name=name)
    assert platform.share_params == list(SHARE_PARAMS.get(name, ()))
    findings = {finding_record(agency=agency, url=url, actor=bob)[0] for url in variants}
    assert len(findings) == 1
    (finding,) = findings
    assert finding.platform == platform
    assert finding.canonical_url == canonicalize_url(variants[0])
    assert finding.url == variants[0]  # the URL as first recorded stays as it was
    # Content-bearing parameters are kept: a different page is a different finding.
    other, created = finding_record(agency=agency, url=content_url, actor=bob)
    assert created and other.canonical_url == content_canonical


def test_the_tiktok_example_of_the_issue_is_one_finding(agency, bob) -> None:  # type: ignore[no-untyped-def]
    plain = "https://www.tiktok.com/@someone/video/7300000000000000000"
    shared = plain + "?is_from_webapp=1&sender_device=pc"
    first, created = finding_record(agency=agency, url=plain, actor=bob)
    again, created_again = finding_record(agency=agency, url=shared, actor=bob)
    assert created and not created_again and again == first
    # Without the platform's rules (the global ones only) they were two findings.
    assert canonicalize_url(shared) != canonicalize_url(plain)


def test_subdomains_and_short_hosts_follow_their_platform(agency, bob) -> None:  # type: ignore[no-untyped-def]
    rules = url_rules(PlatformIndex.for_agency(agency))
    assert (
        canonicalize_url("https://m.youtube.com/watch?v=abc&feature=share&t=10", rules)
        == "https://m.youtube.com/watch?v=abc"
    )
    assert canonicalize_url("https://youtu.be/abc?si=x&t=30", rules) == "https://youtu.be/abc"
    assert (
        canonicalize_url("https://vm.tiktok.com/ZMabc/?is_from_webapp=1&sender_device=pc", rules)
        == "https://vm.tiktok.com/ZMabc/"
    )
    assert (
        canonicalize_url("https://mobile.twitter.com/a/status/1?s=20&t=x", rules)
        == "https://mobile.twitter.com/a/status/1"
    )
    # A platform's parameters stay on its own hosts: `t` means something elsewhere, and a
    # host that only ends like a platform's domain is not that platform.
    assert canonicalize_url("https://example.com/a?t=1&s=2", rules) == (
        "https://example.com/a?s=2&t=1"
    )
    assert canonicalize_url("https://notyoutube.com/a?feature=1", rules) == (
        "https://notyoutube.com/a?feature=1"
    )
    # ... and not on its CDN hosts, whose signed media URLs must stay intact.
    Platform.objects.filter(agency=agency, name="TikTok").update(cdn_domains=["tiktokv.example"])
    index = PlatformIndex.for_agency(agency)
    assert index.lookup("v16.tiktokv.example").name == "TikTok"
    assert canonicalize_url("https://v16.tiktokv.example/v?_r=1&_t=2", url_rules(index)) == (
        "https://v16.tiktokv.example/v?_r=1&_t=2"
    )


def test_matching_is_case_insensitive_and_the_longest_domain_wins() -> None:
    rules = UrlRules(platform_params={"naver.com": frozenset({"a"}), "blog.naver.com": frozenset()})
    assert canonicalize_url("https://www.naver.com/x?A=1&b=2", rules) == (
        "https://www.naver.com/x?b=2"
    )
    assert canonicalize_url("https://blog.naver.com/x?a=1", rules) == (
        "https://blog.naver.com/x?a=1"
    )


def test_an_admins_edit_takes_effect_on_the_next_recording(client, alice, agency, bob) -> None:  # type: ignore[no-untyped-def]
    platform = Platform.objects.get(agency=agency, name="Discord")
    client.force_login(alice)
    page = client.get(reverse("platform_update", args=[platform.pk])).content.decode()
    assert "Share parameters" in page
    response = client.post(
        reverse("platform_update", args=[platform.pk]),
        {
            "name": platform.name,
            "domains": "\n".join(platform.domains),
            "channel": platform.channel,
            "web_form_url": platform.web_form_url,
            "share_params": "Referrer\nshare_ctx, referrer",
        },
    )
    assert response.status_code == 302
    platform.refresh_from_db()
    assert platform.share_params == ["referrer", "share_ctx"]
    first, _ = finding_record(agency=agency, url="https://discord.com/invite/abc", actor=bob)
    again, created = finding_record(
        agency=agency, url="https://discord.com/invite/abc?referrer=x&Share_ctx=1", actor=bob
    )
    assert again == first and not created
    assert "referrer, share_ctx" in client.get(reverse("platform_list")).content.decode()


@pytest.mark.parametrize(
    "entry",
    ["si=abc", "utm source", "?feature", "a&b", "https://youtube.com/?si", "x" * 101],
)
def test_share_parameters_must_be_bare_names(client, alice, agency, entry: str) -> None:  # type: ignore[no-untyped-def]
    platform = Platform.objects.get(agency=agency, name="YouTube")
    client.force_login(alice)
    response = client.post(
        reverse("platform_update", args=[platform.pk]),
        {
            "name": platform.name,
            "domains": "\n".join(platform.domains),
            "channel": platform.channel,
            "share_params": f"si\n{entry}",
        },
    )
    assert response.status_code == 200
    assert "Not a parameter name" in response.content.decode()
    platform.refresh_from_db()
    assert platform.share_params == list(SHARE_PARAMS["YouTube"])


def test_another_agencys_rules_do_not_apply(agency, other_agency, bob, mallory) -> None:  # type: ignore[no-untyped-def]
    # The other agency strips `list` on YouTube; this agency keeps it.
    Platform.objects.filter(agency=other_agency, name="YouTube").update(share_params=["list"])
    Platform.objects.filter(agency=agency, name="TikTok").update(share_params=[])
    a, _ = finding_record(agency=agency, url="https://youtube.com/watch?v=1&list=PL", actor=bob)
    b, created = finding_record(agency=agency, url="https://youtube.com/watch?v=1", actor=bob)
    assert created and a != b
    theirs, _ = finding_record(
        agency=other_agency, url="https://youtube.com/watch?v=1&list=PL", actor=mallory
    )
    assert theirs.canonical_url == "https://youtube.com/watch?v=1"
    # This agency emptied TikTok's list: its share parameters stay; the other's still go.
    mine, _ = finding_record(
        agency=agency, url="https://tiktok.com/@a/video/1?is_from_webapp=1", actor=bob
    )
    assert mine.canonical_url == "https://tiktok.com/@a/video/1?is_from_webapp=1"
    # An index built for another agency is never used for this one.
    other_index = PlatformIndex.for_agency(other_agency)
    kept, _ = finding_record(
        agency=agency,
        url="https://youtube.com/watch?v=2&list=PL",
        actor=bob,
        platforms=other_index,
    )
    assert kept.canonical_url == "https://youtube.com/watch?list=PL&v=2"
    assert kept.platform is not None and kept.platform.agency_id == agency.pk


def test_an_import_applies_the_rules_and_reads_the_platforms_once(agency, bob) -> None:  # type: ignore[no-untyped-def]
    base = "https://www.tiktok.com/@someone/video/{n}"
    rows = [base.format(n=n) + "?is_from_webapp=1&sender_device=pc" for n in range(300)]
    rows += [base.format(n=n) for n in range(300)]
    job = import_job_create(agency=agency, actor=bob, text="\n".join(rows))
    with CaptureQueriesContext(connection) as queries:
        job = import_job_run(job_id=job.pk)
    assert job is not None
    assert (job.created_count, job.duplicate_count, job.invalid_count) == (300, 300, 0)
    assert Finding.objects.filter(agency=agency).count() == 300
    platform_reads = [q for q in queries if 'FROM "cases_platform"' in q["sql"]]
    assert len(platform_reads) == 1


def test_the_api_and_the_fan_report_apply_the_rules(client, agency, bob) -> None:  # type: ignore[no-untyped-def]
    plain = "https://www.instagram.com/reel/C1a2B3c4D5e/"
    first, _ = finding_record(agency=agency, url=plain, actor=bob)
    api = APIClient()
    api.force_login(bob)
    response = api.post(
        reverse("api:finding-list"), {"url": plain + "?igsh=abc&hl=en"}, format="json"
    )
    assert response.status_code == 200 and response.json()["id"] == first.pk
    response = client.post(
        reverse("fan_report", args=["aurora"]),
        {"url": plain + "?hl=ko", "artist": "", "description": "", "contact": "", "website": ""},
    )
    assert response.status_code == 302
    assert Finding.objects.filter(agency=agency).count() == 1
