"""Demo data for a laptop: two fictional agencies, their roster, staff, findings and a case.

Everything is written through the services, so the demo has a real audit trail. Running it
again changes nothing: the whole seed is one transaction, skipped when the demo agency exists.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from cases.agency.models import Artist
from cases.agency.services.roster import artist_save, group_save
from cases.agency.services.tenancy import agency_create, membership_create
from cases.intake.models import FindingSource, FindingStatus
from cases.intake.services.fan_reports import fan_report_submit
from cases.intake.services.findings import finding_record, finding_set_status, finding_update
from cases.kernel.models import Agency, Role
from cases.legal.services.legal_cases import case_create, case_deadline_add

DEMO_PASSWORD = "demo-password"

# (username, role, agency slug). Every account logs in with DEMO_PASSWORD.
DEMO_STAFF: list[tuple[str, str, str]] = [
    ("yuna.admin", Role.ADMIN, "aurora"),
    ("minji.legal", Role.LEGAL, "aurora"),
    ("viewer", Role.VIEWER, "aurora"),
    ("hyun.admin", Role.ADMIN, "nebula"),
]
AGENCIES = {"aurora": "Aurora Entertainment", "nebula": "Nebula Music"}

# Fictional groups and artists: (group, group in Hangul, [(stage name, Hangul, Latin, legal name)]).
ROSTER: dict[str, list[tuple[str, str, list[tuple[str, str, str, str]]]]] = {
    "aurora": [
        (
            "Starlight",
            "스타라이트",
            [
                ("Haneul", "하늘", "Haneul", "Park Ha-neul"),
                ("Seori", "서리", "Seori", "Lee Seo-ri"),
                ("Dahye", "다혜", "Dahye", "Choi Da-hye"),
                ("Jiwoo", "지우", "Jiwoo", "Kang Ji-woo"),
            ],
        ),
        (
            "Moonrise",
            "문라이즈",
            [
                ("Rin", "린", "Rin", "Yoon Rin"),
                ("Taemin J", "태민J", "Taemin J", "Jung Tae-min"),
                ("Bora", "보라", "Bora", "Han Bo-ra"),
            ],
        ),
    ],
    "nebula": [
        (
            "Comet Club",
            "코멧클럽",
            [("Taeo", "태오", "Taeo", "Seo Tae-o"), ("Sol", "솔", "Sol", "Oh Sol")],
        ),
    ],
}

# URL shapes on seeded platforms (and one host no platform knows), with tracking junk
# that canonicalisation removes.
URL_PATTERNS = [
    "https://www.youtube.com/watch?v=dfDemo{n:03d}&utm_source=share",
    "https://x.com/fakeclips_{n}/status/18000000{n:03d}",
    "https://www.tiktok.com/@aifan{n}/video/7300000{n:03d}",
    "https://www.instagram.com/p/CdEmo{n:03d}/?igshid=demo",
    "https://www.reddit.com/r/kpopfakes_demo/comments/{n:03d}/",
    "https://t.me/s/deepfake_demo_{n}",
    "https://gall.dcinside.com/board/view/?id=demo&no={n}",
    "https://deepfake-gallery.example/v/{n}",
]
# Status paths through the lifecycle (each step is a real service call).
STATUS_PATHS: list[list[str]] = [
    [],
    [],
    [FindingStatus.TRIAGED],
    [FindingStatus.TRIAGED],
    [FindingStatus.TRIAGED, FindingStatus.CAPTURED],
    [FindingStatus.TRIAGED, FindingStatus.CAPTURED, FindingStatus.NOTICE_SENT],
    [
        FindingStatus.TRIAGED,
        FindingStatus.CAPTURED,
        FindingStatus.NOTICE_SENT,
        FindingStatus.REMOVED,
    ],
    [
        FindingStatus.TRIAGED,
        FindingStatus.CAPTURED,
        FindingStatus.NOTICE_SENT,
        FindingStatus.REMOVED,
        FindingStatus.REAPPEARED,
    ],
    [FindingStatus.DISMISSED],
]
SOURCES = [FindingSource.STAFF, FindingSource.STAFF, FindingSource.API, FindingSource.CRAWLER]
AURORA_FINDINGS = 36
NEBULA_FINDINGS = 6


class Command(BaseCommand):
    help = "Load fictional demo agencies, staff, roster, findings and a case (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/", help="The address printed for the demo."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG off (demo accounts have a published password).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates accounts with a published password; it refuses to run with "
                "DEBUG off. Use --force only on a throwaway installation."
            )
        if Agency.objects.filter(slug="aurora").exists():
            self.stdout.write("Demo data already present; nothing changed.")
        else:
            with transaction.atomic():
                seed()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.print_logins(options["url"])

    def print_logins(self, url: str) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"AgencyGuard: {url}"))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, slug in DEMO_STAFF:
            self.stdout.write(f"  {username:<13} {role:<7} {AGENCIES[slug]}")
        self.stdout.write("")


def seed() -> None:
    """Create both demo agencies and everything in them."""
    users: dict[str, User] = {}
    agencies = {slug: agency_create(name=name, slug=slug) for slug, name in AGENCIES.items()}
    for username, role, slug in DEMO_STAFF:
        admin = next(
            (users[u] for u, r, s in DEMO_STAFF if s == slug and r == Role.ADMIN and u in users),
            None,
        )
        membership = membership_create(
            agency=agencies[slug],
            actor=admin,
            username=username,
            email=f"{username}@{slug}.example",
            password=DEMO_PASSWORD,
            role=role,
        )
        users[username] = membership.user
    artists = {
        slug: _seed_roster(
            agency=agencies[slug], actor=users["yuna.admin" if slug == "aurora" else "hyun.admin"]
        )
        for slug in AGENCIES
    }
    aurora_findings = _seed_findings(
        agency=agencies["aurora"],
        actor=users["minji.legal"],
        artists=artists["aurora"],
        count=AURORA_FINDINGS,
    )
    _seed_findings(
        agency=agencies["nebula"],
        actor=users["hyun.admin"],
        artists=artists["nebula"],
        count=NEBULA_FINDINGS,
    )
    _seed_fan_reports(agency=agencies["aurora"], artists=artists["aurora"])
    _seed_case(
        agency=agencies["aurora"],
        actor=users["minji.legal"],
        artists=artists["aurora"][:2],
        findings=[f for f in aurora_findings if "t.me" in f.canonical_url],
    )


def _seed_roster(*, agency: Agency, actor: User) -> list[Artist]:
    artists = []
    for group_name, group_hangul, members in ROSTER[agency.slug]:
        group = group_save(agency=agency, actor=actor, name=group_name, name_hangul=group_hangul)
        for stage_name, hangul, latin, legal in members:
            artists.append(
                artist_save(
                    agency=agency,
                    actor=actor,
                    groups=[group],
                    stage_name=stage_name,
                    name_hangul=hangul,
                    name_latin=latin,
                    legal_name=legal,
                    aliases=[latin.lower()],
                )
            )
    return artists


def _seed_findings(*, agency: Agency, actor: User, artists: list[Artist], count: int) -> list[Any]:
    findings = []
    for n in range(count):
        url = URL_PATTERNS[n % len(URL_PATTERNS)].format(n=n + 1)
        depicted = [artists[n % len(artists)]]
        if n % 5 == 0:
            depicted.append(artists[(n + 1) % len(artists)])
        finding, _created = finding_record(
            agency=agency,
            url=url,
            actor=actor,
            source=SOURCES[n % len(SOURCES)],
            artists=depicted,
            notes="Reported during the weekly sweep." if n % 3 == 0 else "",
        )
        for status in STATUS_PATHS[n % len(STATUS_PATHS)]:
            reason = "Parody account, not a deepfake." if status == FindingStatus.DISMISSED else ""
            finding = finding_set_status(finding=finding, status=status, actor=actor, reason=reason)
        if n % 4 == 1:
            finding = finding_update(finding=finding, actor=actor, assignee=actor)
        findings.append(finding)
    return findings


def _seed_fan_reports(*, agency: Agency, artists: list[Artist]) -> None:
    reports = [
        (
            "https://www.youtube.com/shorts/fanTip001?si=share",
            "A face-swapped fancam, posted yesterday.",
        ),
        (
            "https://x.com/deepfakes_kr_demo/status/1900000000001",
            "계정이 계속 합성 영상을 올립니다.",
        ),
        # Already recorded by staff: the report joins the existing finding.
        ("https://t.me/s/deepfake_demo_6", "Telegram channel sharing edited clips."),
    ]
    for index, (url, description) in enumerate(reports):
        fan_report_submit(
            agency=agency,
            url=url,
            artist=artists[index % len(artists)],
            description=description,
            contact="fan@example.net" if index == 0 else "",
        )


def _seed_case(*, agency: Agency, actor: User, artists: list[Artist], findings: list[Any]) -> None:
    case = case_create(
        agency=agency,
        actor=actor,
        title="Telegram deepfake channels targeting Starlight",
        artists=artists,
        findings=findings,
        jurisdiction="Seoul Central District Court (서울중앙지방법원)",
        police_report_number="DEMO-2025-0412",
        counsel_name="Hanbit Law Group (fictional)",
        counsel_email="counsel@hanbit-law.example",
        notes="Demo case: channels re-post the same edited clips under new names.",
    )
    today = timezone.localdate()
    case_deadline_add(
        case=case,
        actor=actor,
        title="Submit evidence packet to police",
        due_on=today + timedelta(days=7),
    )
    case_deadline_add(
        case=case,
        actor=actor,
        title="Preservation request expires",
        due_on=today + timedelta(days=30),
    )
