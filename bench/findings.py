"""Triage page and findings API at 1,000 and 100,000 findings: latency and SQL per request.

Findings are seeded with bulk_create (fast; the benchmark is about reads, not the service).
Requests go through django.test.Client as a logged-in legal user, so the figures are the
app's own work (no network, no web server). The number of SQL queries per request must be
the same at both sizes, and API pages must never COUNT the findings table."""

from __future__ import annotations

import itertools
import time

from common import emit, note, percentile, setup_django, summary, timer

setup_django()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from cases.agency.models import Artist  # noqa: E402
from cases.agency.services.platforms import PlatformIndex  # noqa: E402
from cases.agency.services.roster import artist_save, group_save  # noqa: E402
from cases.agency.services.tenancy import agency_create, membership_create  # noqa: E402
from cases.intake.canonical import canonical_hash, canonicalize_url, host_of  # noqa: E402
from cases.intake.models import Finding, FindingSource, FindingStatus  # noqa: E402
from cases.kernel.models import Role  # noqa: E402

SMALL, LARGE = 1_000, 100_000
REPEAT = 5  # per request kind; 6 kinds -> 30 requests per size
URLS = [
    "https://www.youtube.com/watch?v=bench{n}&utm_source=share",
    "https://x.com/clips{u}/status/{n}",
    "https://www.tiktok.com/@fan{u}/video/{n}",
    "https://www.instagram.com/p/B{n}/?igshid=x",
    "https://www.reddit.com/r/bench{u}/comments/{n}/",
    "https://t.me/s/channel{u}/{n}",
    "https://gall.dcinside.com/board/view/?id=g{u}&no={n}",
    "https://fakes-{u}.example/watch/{n}",
]
# Weighted like a real queue: most findings are new or triaged.
STATUSES = [FindingStatus.NEW] * 4 + [FindingStatus.TRIAGED] * 2 + [
    FindingStatus.CAPTURED, FindingStatus.NOTICE_SENT, FindingStatus.REMOVED, FindingStatus.DISMISSED,
]  # fmt: skip
SOURCES = [
    FindingSource.STAFF,
    FindingSource.IMPORT,
    FindingSource.IMPORT,
    FindingSource.FAN_REPORT,
    FindingSource.API,
]


def seed_agency():  # type: ignore[no-untyped-def]
    with transaction.atomic():
        agency = agency_create(name="Bench Agency", slug="bench")
        legal = membership_create(
            agency=agency, actor=None, username="bench.legal", email="legal@bench.example",
            password=None, role=Role.LEGAL,
        ).user  # fmt: skip
        group = group_save(agency=agency, actor=legal, name="Benchmark", name_hangul="벤치마크")
        artists = [
            artist_save(
                agency=agency,
                actor=legal,
                groups=[group],
                stage_name=f"Artist {i}",
                name_hangul=f"가수{i}",
            )
            for i in range(20)
        ]
    return agency, legal, artists


def seed_findings(agency, user, artists: list[Artist], start: int, stop: int) -> float:  # type: ignore[no-untyped-def]
    """bulk_create findings start..stop-1 (one artist each); returns rows per second."""
    platforms = PlatformIndex.for_agency(agency)
    through = Finding.artists.through
    with timer() as elapsed:
        for batch_start in range(start, stop, 10_000):
            batch = []
            for n in range(batch_start, min(stop, batch_start + 10_000)):
                url = URLS[n % len(URLS)].format(n=n, u=n % 997)
                canonical = canonicalize_url(url)
                host = host_of(canonical)
                status = STATUSES[n % len(STATUSES)]
                batch.append(
                    Finding(
                        agency=agency, url=url, canonical_url=canonical, canonical_hash=canonical_hash(canonical),
                        host=host, platform=platforms.lookup(host), source=SOURCES[n % len(SOURCES)],
                        status=status, created_by=user,
                        dismissed_reason="not a deepfake" if status == FindingStatus.DISMISSED else "",
                    )
                )  # fmt: skip
            with transaction.atomic():
                created = Finding.objects.bulk_create(batch, batch_size=2000)
                through.objects.bulk_create(
                    [
                        through(finding_id=f.pk, artist_id=artists[f.pk % len(artists)].pk)
                        for f in created
                    ],
                    batch_size=5000,
                )
        analyze()
    return (stop - start) / elapsed()


def analyze() -> None:
    """Fresh planner statistics, as autovacuum would have after a real import."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE cases_finding; ANALYZE cases_finding_artists;")
        else:
            cursor.execute("ANALYZE")


def counts_findings(sql: str) -> bool:
    """A COUNT over the findings table (what a page-number paginator would run). The triage
    total's COUNT over at most 1,001 rows (a LIMIT inside) is bounded and not one."""
    upper = sql.upper()
    return (
        "COUNT(" in upper
        and '"CASES_FINDING"' in upper.split(" WHERE ")[0]
        and "LIMIT" not in upper
    )


def measure(
    client: Client, kinds: dict[str, str], repeat: int, **headers: str
) -> dict[str, tuple[list[float], list[int], int]]:
    """Per request kind: latencies (ms), SQL query counts, and how many COUNTs of findings."""
    results = {}
    for kind, path in kinds.items():
        response = client.get(path, headers=headers)  # warm-up: template and plan caches
        assert response.status_code == 200, (path, response.status_code)
        latencies, queries, counts = [], [], 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.get(path, headers=headers)
                latencies.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (path, response.status_code)
            queries.append(len(ctx.captured_queries))
            counts += sum(counts_findings(q["sql"]) for q in ctx.captured_queries)
        results[kind] = (latencies, queries, counts)
        note(f"{kind:<22} {path:<48} {summary(latencies)} ms, queries={sorted(set(queries))}")
    return results


def api_cursor_pages(client: Client, pages: int) -> list[str]:
    """The first page's `next` links, followed `pages` times (cursor pagination)."""
    paths, url = [], "/api/findings/"
    for _ in range(pages):
        data = client.get(url, headers={"accept": "application/json"}).json()
        if not data.get("next"):
            break
        url = data["next"].replace("http://testserver", "")
        paths.append(url)
    return paths


def run_size(client: Client, label: str, size: int, artist_id: int, platform_id: int) -> None:
    note(f"-- {label} findings --")
    triage = {
        "first page": "/findings/",
        "status filter": "/findings/?status=new",
        "artist filter": f"/findings/?artist={artist_id}",
        "search (common)": "/findings/?q=tiktok",
        "search (rare)": "/findings/?q=fan4%2Fvideo%2F99",
        "last page": f"/findings/?page={size // 50}",  # OFFSET size - 50
    }
    api = {
        "first page": "/api/findings/",
        "status filter": "/api/findings/?status=triaged",
        "platform filter": f"/api/findings/?platform={platform_id}",
        "search": "/api/findings/?q=instagram",
    }
    for index, path in enumerate(api_cursor_pages(client, 2)):
        api[f"cursor page {index + 2}"] = path
    triage_results = measure(client, triage, REPEAT)
    api_results = measure(client, api, REPEAT, accept="application/json")
    # The triage page without and with text search (trigram GIN on PostgreSQL).
    pages = [r[0] for kind, r in triage_results.items() if not kind.startswith("search")]
    searches = [r[0] for kind, r in triage_results.items() if kind.startswith("search")]
    emit(f"triage_page_p95_{label}", percentile(list(itertools.chain(*pages)), 95), "ms")
    emit(f"search_p95_{label}", percentile(list(itertools.chain(*searches)), 95), "ms")
    for name, results in (("triage", triage_results), ("api", api_results)):
        latencies = list(itertools.chain.from_iterable(r[0] for r in results.values()))
        emit(f"{name}_p50_{label}", percentile(latencies, 50), "ms")
        emit(f"{name}_p95_{label}", percentile(latencies, 95), "ms")
        emit(f"{name}_queries_max_{label}", max(max(r[1]) for r in results.values()), "queries")
        emit(
            f"{name}_count_findings_queries_{label}", sum(r[2] for r in results.values()), "queries"
        )
    dashboard = measure(client, {"dashboard": "/"}, REPEAT)["dashboard"]
    emit(f"dashboard_p50_{label}", percentile(dashboard[0], 50), "ms")
    emit(f"dashboard_p95_{label}", percentile(dashboard[0], 95), "ms")


def main() -> None:
    agency, legal, artists = seed_agency()
    client = Client()
    client.force_login(legal)
    platform_id = PlatformIndex.for_agency(agency).lookup("www.instagram.com").pk
    seed_findings(agency, legal, artists, 0, SMALL)
    run_size(client, "1k", SMALL, artists[3].pk, platform_id)
    rate = seed_findings(agency, legal, artists, SMALL, LARGE)
    emit("findings_seed_rate", rate, "rows/s")
    assert Finding.objects.filter(agency=agency).count() == LARGE
    run_size(client, "100k", LARGE, artists[3].pk, platform_id)


if __name__ == "__main__":
    main()
