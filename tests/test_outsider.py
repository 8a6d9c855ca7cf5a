"""Tenancy, proven by enumeration. Every URL pattern of the project (UI and API, read from
the resolver, so a new endpoint cannot escape) is called by:

- Mallory, admin of another agency (session and API token): objects of Aurora are 404 or
  403, lists show none of Aurora's data, and nothing of Aurora changes;
- Carol, a viewer of Aurora: every write is refused (403/405) and nothing changes;
- an anonymous visitor: sent to the login page (UI) or refused (API).

A pattern whose URL arguments the test cannot fill in fails the test, naming the pattern:
teach `_value_for` about it, or allowlist it below with the reason."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q
from django.http import HttpResponse
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.agency.models import AbuseLookup, AbuseLookupState, Platform
from cases.evidence.models import EvidenceKind, RemovalSignature
from cases.evidence.services.captures import capture_request
from cases.evidence.services.evidence import evidence_ingest
from cases.intake.monitor.models import Discovery, WatchedSource
from cases.intake.services.fan_reports import fan_report_submit
from cases.intake.services.imports import import_job_create
from cases.intake.services.saved_views import saved_view_save
from cases.intake.services.watched_sources import watched_source_save
from cases.kernel.models import Agency, Membership
from cases.legal.services.legal_cases import case_create, case_deadline_add
from cases.matching.services.exchange import partner_create, subscription_save
from cases.notices.services.drafts import notice_create
from cases.notices.webhooks import webhook_save
from cases.work.services.comments import comment_add
from cases.work.services.tasks import task_add
from tests.factories import ArtistFactory, GroupFactory, make_finding

# Whole namespaces left to other tests, with the reason.
SKIPPED_NAMESPACES = {"admin": "superusers only: test_the_django_admin_is_closed_to_agency_users"}
# Single patterns left out, with the reason. Keep this list short.
ALLOWLIST = {
    "login": "public by design; throttled by axes",
    "logout": "ends the session the test runs in",
    "set_language": "public by design; changes only the caller's session",
    "fan_report": "public form: posting to another agency's form is just a fan report",
    "fan_report_thanks": "public page with no agency data",
    "api:schema": "static description: test_the_api_schema_and_docs_hold_no_agency_data",
    "api:docs": "static page: test_the_api_schema_and_docs_hold_no_agency_data",
    "healthz": "public probe: 'ok', no data (tests/cases/test_health.py)",
    "readyz": "public probe: check names and statuses only (tests/cases/test_health.py)",
    "password_reset": "public by design; never tells whether an address exists (tests/cases/test_account.py)",
    "password_reset_done": "public page with no data",
    "password_reset_confirm": "public; only a valid token from the e-mail opens it (tests/cases/test_account.py)",
    "password_reset_complete": "public page with no data",
    "metrics": "bearer token only, aggregate over agencies (tests/ops/test_metrics.py)",
    "api:exchange-bank": "partner API key only, never a member's session or token: "
    "test_a_partner_key_of_one_agency_never_reads_another_agency_bank",
}
# Writes a viewer may make: her own preferences and API token, never agency data.
VIEWER_MAY_WRITE = {
    "user_settings": "a member's own preferences and API token",
    "password_change": "a user's own password (needs the old one)",
    "twofactor_setup": "a member's own authenticator (tests/cases/test_twofactor.py)",
    "twofactor_verify": "a member's own second login step",
    "twofactor_recovery_codes": "a member's own recovery codes",
    "twofactor_disable": "a member's own authenticator",
    "notification_read": "a member's own notifications (marked read)",
    "digest_settings": "a member's own opt-in to the daily e-mail digest (tests/work/test_digest.py)",
}
# Kwargs that do not point at an object: a URL with only these is a "list" URL.
NON_OBJECT_KWARGS = {"format", "agency_slug"}
# Pattern-name prefix (UI `finding_detail`, API `finding-detail`) → which Aurora object `pk` is.
PK_BY_PREFIX = {
    "finding": "finding",
    "case": "case",
    "artist": "artist",
    "group": "group",
    "staff": "membership",
    "platform": "platform",
    "removal_signature": "removal_signature",
    "import": "import_job",
    "evidence": "evidence",
    "capture": "capture",
    "notice": "notice",
    "webhook": "webhook",
    "detector": "detector",
    "saved_view": "saved_view",
    "watched_source": "watched_source",
    "exchange_partner": "exchange_partner",
    "exchange_subscription": "exchange_subscription",
}
API_METHODS = ("get", "post", "patch", "put", "delete")
UI_METHODS = ("get", "post")
# Names the walk must find (the URL contract of the brief): proof that it walks the real tree.
CONTRACT = {
    "dashboard",
    "finding_list",
    "finding_create",
    "finding_detail",
    "finding_status",
    "finding_update",
    "finding_bulk_status",
    "import_create",
    "import_list",
    "import_detail",
    "import_report",
    "case_list",
    "case_create",
    "case_detail",
    "case_update",
    "case_findings",
    "case_deadline_add",
    "case_deadline_done",
    "case_timeline",
    "case_comment_add",
    "case_task_add",
    "finding_comment_add",
    "finding_task_add",
    "task_done",
    "my_work",
    "notification_list",
    "notification_bell",
    "notification_read",
    "digest_settings",
    "finding_preview",
    "artist_list",
    "artist_create",
    "artist_detail",
    "artist_update",
    "group_list",
    "group_create",
    "group_update",
    "staff_list",
    "staff_create",
    "staff_update",
    "platform_list",
    "platform_update",
    "audit_list",
    "user_settings",
    "watched_source_list",
    "watched_source_create",
    "watched_source_detail",
    "watched_source_update",
    "watched_source_delete",
    "watched_source_poll",
    "api:api-root",
    "api:artist-list",
    "api:artist-detail",
    "api:group-list",
    "api:group-detail",
    "api:finding-list",
    "api:finding-detail",
    "api:finding-status",
    "api:case-list",
    "api:case-detail",
    "api:case-findings",
    "notice_submission",
    "api:notice-submission",
    "detector_detail",
    "api:detector-list",
    "api:detector-detail",
    "api:evidence-detections",
    "artist_share_consent",
    "exchange_settings",
    "exchange_partner_revoke",
    "exchange_subscription_fetch",
}


# ---------------------------------------------------------------------------- the walk


@dataclass(frozen=True)
class Route:
    name: str | None  # namespaced, e.g. "api:finding-detail"; None for an unnamed pattern
    route: str  # the full pattern, as ResolverMatch.route spells it
    kwargs: tuple[str, ...]
    namespaces: tuple[str, ...] = ()

    @property
    def is_api(self) -> bool:
        return bool(self.name and self.name.startswith("api:"))

    @property
    def is_object(self) -> bool:
        return bool(set(self.kwargs) - NON_OBJECT_KWARGS)

    @property
    def skip_reason(self) -> str | None:
        if self.namespaces and self.namespaces[0] in SKIPPED_NAMESPACES:
            return SKIPPED_NAMESPACES[self.namespaces[0]]
        return ALLOWLIST.get(self.name or "")


def _params(pattern: Any) -> tuple[str, ...]:
    if isinstance(pattern, RoutePattern):
        return tuple(pattern.converters)
    if isinstance(pattern, RegexPattern):
        return tuple(pattern.regex.groupindex)
    return ()


def walk(
    patterns: list[Any] | None = None,
    prefix: str = "",
    namespaces: tuple[str, ...] = (),
    kwargs: tuple[str, ...] = (),
) -> Iterator[Route]:
    """Every URLPattern under the root resolver, with its namespaced name and all the
    keyword arguments of the pattern and of the resolvers above it."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = URLResolver._join_route(prefix, str(entry.pattern))
        params = kwargs + _params(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            yield from walk(entry.url_patterns, route, inner, params)
        elif isinstance(entry, URLPattern):
            name = ":".join((*namespaces, entry.name)) if entry.name else None
            yield Route(name, route, params, namespaces)


def _value_for(route: Route, kwarg: str, objects: Objects) -> Any:
    """The value of one URL argument, pointing at one agency's objects; None when unknown."""
    if kwarg == "format":
        return "json"
    if kwarg == "agency_slug":
        return objects.agency.slug
    if kwarg == "deadline_pk":
        return objects.deadline.pk
    if kwarg == "finding_pk":
        return objects.finding.pk
    if kwarg == "artist_pk":
        return objects.artist.pk
    if kwarg == "dossier_pk":
        return objects.dossier.pk
    if kwarg == "run_pk":
        return objects.detection_run.pk
    if kwarg == "task_pk":
        return objects.task.pk
    if kwarg == "pk" and route.name:
        bare = route.name.rsplit(":", 1)[-1]
        for prefix, attribute in PK_BY_PREFIX.items():
            if bare.startswith((f"{prefix}_", f"{prefix}-")):
                return getattr(objects, attribute).pk
    return None


def build_url(
    route: Route, world: World, own: frozenset[str] = frozenset()
) -> tuple[str | None, str]:
    """(path, "") or (None, why the test cannot build it). URL arguments point at Aurora's
    objects, except those named in `own`, which point at Nebula's (Mallory's own)."""
    if route.name is None:
        return (
            None,
            f"unnamed pattern {route.route!r}: give it a name so the outsider test can reverse it",
        )
    kwargs = {}
    for kwarg in route.kwargs:
        value = _value_for(route, kwarg, world.nebula if kwarg in own else world)
        if value is None:
            return None, (
                f"pattern {route.name!r} ({route.route!r}): no value for URL argument {kwarg!r}; "
                "teach tests/test_outsider.py::_value_for about it"
            )
        kwargs[kwarg] = value
    try:
        path = reverse(route.name, kwargs=kwargs)
    except NoReverseMatch as exc:
        return None, f"pattern {route.name!r} ({route.route!r}) cannot be reversed: {exc}"
    if resolve(path).route != route.route:
        return (
            None,
            f"{path} resolves to {resolve(path).route!r}, not to {route.route!r} ({route.name})",
        )
    return path, ""


def routes_to_probe(world: World) -> tuple[list[tuple[Route, str]], list[str]]:
    """(route, path) pairs to call, and the patterns that could not be built. A URL with
    several object arguments (a case's deadline) is also built with all but one of them
    pointing at Mallory's own objects: her own case must not unlock Aurora's deadline."""
    probed, problems = [], []
    for route in walk():
        if route.skip_reason:
            continue
        object_kwargs = [k for k in route.kwargs if k not in NON_OBJECT_KWARGS]
        mixes = [frozenset()]
        if len(object_kwargs) > 1:
            mixes += [frozenset(object_kwargs) - {foreign} for foreign in object_kwargs]
        for own in mixes:
            path, problem = build_url(route, world, own)
            if path is None:
                problems.append(problem)
            else:
                probed.append((route, path))
    return probed, problems


# ---------------------------------------------------------------------------- the two agencies


@dataclass
class Objects:
    """One of each kind of object a URL can point at, all of one agency."""

    agency: Agency
    group: Any
    artist: Any
    finding: Any
    case: Any
    deadline: Any
    import_job: Any
    platform: Platform
    membership: Membership
    evidence: Any
    capture: Any
    notice: Any
    webhook: Any
    dossier: Any
    removal_signature: Any
    detector: Any
    detection_run: Any
    task: Any
    saved_view: Any
    watched_source: Any
    exchange_partner: Any
    exchange_subscription: Any


@dataclass
class World(Objects):
    """Aurora's objects (marked with strings that must never reach an outsider), its
    people, and Nebula's objects for Mallory's own side of mixed URLs."""

    alice: Any
    bob: Any
    carol: Any
    mallory: Any
    markers: tuple[str, ...]
    nebula: Objects


def _done_dossier(case: Any, actor: Any, text: str) -> Any:
    """A finished dossier (reports app) whose stored PDF and reason hold `text`."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from reports.models import Dossier, DossierKind, DossierStatus

    dossier = Dossier.objects.create(
        agency=case.agency,
        case=case,
        kind=DossierKind.ANNEX,
        status=DossierStatus.DONE,
        progress=100,
        reason=text,
        generated_by=actor,
        generated_by_label=actor.get_username(),
    )
    dossier.pdf_name = default_storage.save(
        f"reports/{dossier.uuid.hex}.pdf", ContentFile(f"%PDF-1.7 {text}".encode())
    )
    dossier.zip_name = default_storage.save(
        f"reports/{dossier.uuid.hex}.zip", ContentFile(f"PK {text}".encode())
    )
    dossier.save()
    return dossier


def _detector_used_by(evidence: Any, text: str) -> Any:
    """A detector version (inactive, so only its users may read its card) that scored one
    evidence item of the agency; `text` is in its card (a training folder of the agency)."""
    import hashlib

    from detection.models import DetectionRun, DetectionStatus, DetectorVersion

    version = DetectorVersion.objects.create(
        key=f"{text}-detector",
        version="1",
        architecture="meso4",
        checkpoint_path="/models/m.safetensors",
        checkpoint_sha256=hashlib.sha256(text.encode()).hexdigest(),
        card={"training_data": {"folder": f"/data/{text}"}, "limits": text},
    )
    DetectionRun.objects.create(
        agency=evidence.agency,
        evidence=evidence,
        detector_version=version,
        status=DetectionStatus.DONE,
        item_probability=0.5,
        checkpoint_sha256=version.checkpoint_sha256,
        progress=100,
    )
    return version


def _failed_detection_run(evidence: Any) -> Any:
    """A failed detection run of the evidence item: one a member may retry."""
    from detection.models import DetectionRun, DetectionStatus

    return DetectionRun.objects.create(
        agency=evidence.agency, evidence=evidence, status=DetectionStatus.FAILED, error="boom"
    )


def _aurora_source(agency: Agency, alice: Any, finding: Any) -> Any:
    """A watched source of Aurora's, failing (its error names a secret host), that
    discovered Aurora's finding."""
    source = watched_source_save(
        agency=agency,
        actor=alice,
        name="AURORA-SECRET-SOURCE",
        kind="html",
        url="https://aurora-secret.example/board",
        selector="article.aurora-secret a",
        interval_minutes=60,
    )
    WatchedSource.objects.filter(pk=source.pk).update(
        state="failing", last_error="https://aurora-secret.example/board: HTTP 503"
    )
    Discovery.objects.create(
        agency=agency,
        source=source,
        source_name=source.name,
        finding=finding,
        item_url=finding.url,
        reason="alias 'AURORA-SECRET-ARTIST' in title",
    )
    return source


def _nebula(agency: Agency, mallory: Any) -> Objects:
    """Mallory has a life of her own, so her pages render rows, not only empty states."""
    group = GroupFactory(agency=agency, name="Nebula Group")
    artist = ArtistFactory(agency=agency, stage_name="Nebula Star")
    finding = make_finding(
        agency, "https://www.tiktok.com/@nebula/video/1", actor=mallory, artists=[artist]
    )
    case = case_create(agency=agency, actor=mallory, title="Nebula case", findings=[finding])
    evidence = evidence_ingest(
        agency=agency,
        data=b"nebula evidence bytes",
        kind=EvidenceKind.UPLOAD,
        collected_by=mallory,
        finding=finding,
    )[0]
    return Objects(
        agency=agency,
        group=group,
        artist=artist,
        finding=finding,
        case=case,
        deadline=case_deadline_add(
            case=case, actor=mallory, title="Nebula deadline", due_on=date(2031, 1, 1)
        ),
        import_job=import_job_create(
            agency=agency, actor=mallory, text="https://nebula.example/1\n"
        ),
        platform=Platform.objects.get(agency=agency, name="YouTube"),
        membership=mallory.membership,
        evidence=evidence,
        capture=capture_request(finding=finding, actor=mallory),
        notice=notice_create(
            agency=agency, actor=mallory, findings=[finding], legal_basis="platform_policy"
        ),
        webhook=webhook_save(
            agency=agency,
            actor=mallory,
            url="https://hooks.nebula.example/x",
            events=["notice.sent"],
        ),
        dossier=_done_dossier(case, mallory, "nebula dossier"),
        removal_signature=RemovalSignature.objects.filter(agency=agency).first(),
        detector=_detector_used_by(evidence, "nebula"),
        detection_run=_failed_detection_run(evidence),
        task=task_add(actor=mallory, title="Nebula task", assignee=mallory, case=case),
        saved_view=saved_view_save(
            agency=agency, owner=mallory, name="Nebula view", query="q=nebula", shared=True
        ),
        watched_source=watched_source_save(
            agency=agency,
            actor=mallory,
            name="Nebula feed",
            kind="feed",
            url="https://nebula.example/feed.xml",
            interval_minutes=60,
        ),
        exchange_partner=partner_create(agency=agency, actor=mallory, name="Nebula partner")[0],
        exchange_subscription=subscription_save(
            agency=agency,
            actor=mallory,
            name="Nebula reads",
            feed_url="https://bank.nebula.example/api/exchange/bank/",
            api_key="agx_nebula_key",
            signing_key="nebula signing key",
        ),
    )


@pytest.fixture
def world(agency, other_agency, alice, bob, carol, mallory) -> World:  # type: ignore[no-untyped-def]
    group = GroupFactory(agency=agency, name="AURORA-SECRET-GROUP")
    artist = ArtistFactory(
        agency=agency, stage_name="AURORA-SECRET-ARTIST", legal_name="AURORA-SECRET-LEGAL"
    )
    artist.groups.add(group)
    finding = make_finding(
        agency,
        "https://www.youtube.com/watch?v=aurora-secret-1",
        actor=bob,
        artists=[artist],
        notes="AURORA-SECRET-NOTES",
    )
    case = case_create(
        agency=agency,
        actor=bob,
        title="AURORA-SECRET-CASE",
        artists=[artist],
        findings=[finding],
        notes="AURORA-SECRET-CASE-NOTES",
        police_report_number="AURORA-SECRET-REPORT",
    )
    deadline = case_deadline_add(
        case=case, actor=bob, title="AURORA-SECRET-DEADLINE", due_on=date(2031, 1, 1)
    )
    import_job = import_job_create(
        agency=agency,
        actor=alice,
        text="https://aurora-secret.example/imported\n",
        filename="aurora-secret.csv",
    )
    fan_report_submit(
        agency=agency,
        url="https://aurora-secret.example/fan",
        artist=artist,
        description="AURORA-SECRET-FAN",
        contact="fan@aurora-secret.example",
    )
    platform = Platform.objects.get(agency=agency, name="YouTube")
    Platform.objects.filter(pk=platform.pk).update(abuse_email="legal@aurora-secret.example")
    evidence, _ = evidence_ingest(
        agency=agency,
        data=b"AURORA-SECRET-EVIDENCE original bytes",
        kind=EvidenceKind.UPLOAD,
        collected_by=bob,
        finding=finding,
        original_name="aurora-secret-evidence.png",
    )
    comment_add(author=bob, body="AURORA-SECRET-COMMENT for @carol @alice", case=case)
    # Abuse contacts of Aurora's host, and of the host of Mallory's own finding (so her
    # finding page and notice form would show them if tenancy broke).
    for host in (finding.host, "www.tiktok.com"):
        AbuseLookup.objects.create(
            agency=agency,
            host=host,
            looked_up_at=timezone.now(),
            registrar_state=AbuseLookupState.FOUND,
            registrar_name="AURORA-SECRET-REGISTRAR",
            registrar_email="abuse@aurora-secret.example",
            network_state=AbuseLookupState.FOUND,
            network_name="AURORA-SECRET-NETWORK",
            network_email="noc@aurora-secret.example",
            cdn="cloudflare",
        )
    alice_token = Token.objects.create(user=alice)
    markers = (
        "aurora-secret",
        "Aurora Entertainment",
        alice_token.key,
        alice.email,
        bob.email,
        carol.email,
    )
    return World(
        agency=agency,
        group=group,
        artist=artist,
        finding=finding,
        case=case,
        deadline=deadline,
        import_job=import_job,
        platform=platform,
        membership=alice.membership,
        evidence=evidence,
        capture=capture_request(finding=finding, actor=bob),
        notice=notice_create(
            agency=agency,
            actor=bob,
            findings=[finding],
            legal_basis="dmca_512c3",
            explanation="AURORA-SECRET-NOTICE",
        ),
        webhook=webhook_save(
            agency=agency,
            actor=alice,
            url="https://hooks.aurora-secret.example/x",
            events=["notice.sent"],
        ),
        dossier=_done_dossier(case, bob, "AURORA-SECRET-DOSSIER aurora-secret"),
        removal_signature=RemovalSignature.objects.create(
            agency=agency, platform=platform, name="aurora-secret signature", pattern="x"
        ),
        detector=_detector_used_by(evidence, "aurora-secret"),
        detection_run=_failed_detection_run(evidence),
        task=task_add(actor=bob, title="AURORA-SECRET-TASK", assignee=bob, case=case),
        saved_view=saved_view_save(
            agency=agency,
            owner=bob,
            name="AURORA-SECRET-VIEW",
            query="q=aurora-secret",
            shared=True,
        ),
        watched_source=_aurora_source(agency, alice, finding),
        exchange_partner=partner_create(agency=agency, actor=alice, name="AURORA-SECRET-PARTNER")[
            0
        ],
        exchange_subscription=subscription_save(
            agency=agency,
            actor=alice,
            name="AURORA-SECRET-SUBSCRIPTION",
            feed_url="https://bank.aurora-secret.example/api/exchange/bank/",
            api_key="agx_aurora-secret_key",
            signing_key="aurora-secret signing key",
        ),
        alice=alice,
        bob=bob,
        carol=carol,
        mallory=mallory,
        markers=markers,
        nebula=_nebula(other_agency, mallory),
    )


def probe_body(world: World) -> dict[str, Any]:
    """A plausible body for any form or endpoint, with Aurora's ids wherever ids go and no
    marker strings of its own (so an echo of it is not mistaken for a leak)."""
    return {
        "url": "https://probe.example/x",
        "lines": "https://probe.example/import",
        "status": "dismissed",
        "reason": "probe",
        "ids": [world.finding.pk],
        "findings": [world.finding.pk],
        "artists": [world.artist.pk],
        "artist": world.artist.pk,
        "groups": [world.group.pk],
        "assignee": world.alice.pk,
        "notes": "probe",
        "title": "Probe",
        "name": "Probe",
        "stage_name": "Probe",
        "legal_name": "Probe",
        "role": "admin",
        "username": "probe-user",
        "email": "probe@probe.example",
        "due_on": "2030-01-01",
        "unlink": False,
        "action": "link",
        "active": False,
        "always_blur": False,
        "domains": "probe.example",
        "abuse_email": "abuse@probe.example",
        "channel": "email",
        "jurisdiction": "Probe",
    }


def snapshot(agency: Agency) -> dict[str, list[dict[str, Any]]]:
    """Every row in every app that belongs to the agency or points at one of its rows (so a
    link from another agency's case to one of its findings shows up too), plus its users
    and their API tokens."""
    state: dict[str, list[dict[str, Any]]] = {}
    for model in apps.get_models(include_auto_created=True):
        touches = Q()
        for field in model._meta.get_fields():
            if not isinstance(field, models.ForeignKey):  # OneToOneField is one too
                continue
            if field.related_model is Agency:
                touches |= Q(**{field.name: agency})
            elif any(f.name == "agency" for f in field.related_model._meta.get_fields()):
                touches |= Q(**{f"{field.name}__agency": agency})
        if touches:
            # Joins repeat a row; deduplicated by pk here (DISTINCT over every column fails
            # on a json column, which has no equality in PostgreSQL: audit event data).
            rows = model._default_manager.filter(touches).order_by("pk").values()
            state[model._meta.label] = list(
                {row[model._meta.pk.attname]: row for row in rows}.values()
            )
    user_fields = ("pk", "username", "email", "password", "is_active", "is_staff", "is_superuser")
    state["users"] = list(
        get_user_model()
        .objects.filter(membership__agency=agency)
        .order_by("pk")
        .values(*user_fields)
    )
    state["tokens"] = list(
        Token.objects.filter(user__membership__agency=agency).order_by("pk").values()
    )
    state["agency"] = list(Agency.objects.filter(pk=agency.pk).values())
    return state


# ---------------------------------------------------------------------------- requests


def _body_text(response: HttpResponse) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    headers = " ".join(f"{k}: {v}" for k, v in response.items())
    return (content.decode("utf-8", "replace") + " " + headers).lower()


def send(
    client: Client, method: str, path: str, route: Route, body: dict[str, Any]
) -> HttpResponse:
    if method == "get":
        return client.get(path)
    if route.is_api:
        return getattr(client, method)(path, json.dumps(body), content_type="application/json")
    return getattr(client, method)(path, body)


def check(
    response: HttpResponse,
    *,
    who: str,
    method: str,
    path: str,
    route: Route,
    world: World,
    allowed: set[int] | None,
) -> list[str]:
    """Problems with one response: a 5xx, a status outside `allowed`, or a marker."""
    label = f"{who} {method.upper()} {path} [{route.name}] -> {response.status_code}"
    problems = []
    if response.status_code >= 500:
        error = getattr(response, "exc_info", None)
        problems.append(
            f"{label}: server error {error[1]!r}" if error else f"{label}: server error"
        )
    elif allowed is not None and response.status_code not in allowed:
        problems.append(f"{label}: expected one of {sorted(allowed)}")
    text = _body_text(response)
    leaked = [marker for marker in world.markers if marker.lower() in text]
    if leaked:
        problems.append(f"{label}: response contains Aurora data {leaked}")
    return problems


def _client(user: Any = None, token: str | None = None) -> APIClient:
    client = APIClient()
    client.raise_request_exception = False  # a 500 is reported with the pattern, not raised
    if user is not None:
        client.force_login(user)
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def probe_as_outsider(
    client: APIClient, who: str, world: World, routes: list[tuple[Route, str]]
) -> list[str]:
    problems = []
    body = probe_body(world)
    for route, path in routes:
        for method in API_METHODS if route.is_api else UI_METHODS:
            response = send(client, method, path, route, body)
            # Objects of Aurora: not found or refused. Lists: any answer, but none of Aurora's data.
            allowed = {403, 404, 405} if route.is_object else None
            problems += check(
                response,
                who=who,
                method=method,
                path=path,
                route=route,
                world=world,
                allowed=allowed,
            )
            # She is an admin of her own agency: a refused list would mean we probed nothing.
            if not route.is_object and method == "get" and response.status_code in (401, 403, 404):
                problems.append(
                    f"{who} GET {path} [{route.name}] -> {response.status_code}: her own list is refused"
                )
        if route.is_api:
            # DRF answers OPTIONS with the endpoint's generic description (200 even for an
            # object URL); it must not describe the object itself.
            response = client.options(path)
            problems += check(
                response,
                who=who,
                method="options",
                path=path,
                route=route,
                world=world,
                allowed=None,
            )
    return problems


# ---------------------------------------------------------------------------- tests


@pytest.fixture(autouse=True)
def _quiet_request_log() -> Iterator[None]:
    """Hundreds of refused requests are the point here; keep their log lines out of reports."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def test_the_walk_covers_the_whole_url_contract(world: World) -> None:
    names = {route.name for route in walk()}
    assert names >= CONTRACT, f"missing from the URL tree: {sorted(CONTRACT - names)}"
    probed, problems = routes_to_probe(world)
    assert not problems, "\n".join(problems)
    probed_names = {route.name for route, _ in probed}
    assert probed_names >= CONTRACT
    # The router's format-suffix variants are walked too (/api/findings/1.json).
    assert any(
        path.endswith(".json") for route, path in probed if route.name == "api:finding-detail"
    )
    # A deadline URL is tried with Aurora's case and deadline, and with each mixed with Nebula's.
    deadline_paths = {path for route, path in probed if route.name == "case_deadline_done"}
    assert f"/cases/{world.nebula.case.pk}/deadlines/{world.deadline.pk}/done/" in deadline_paths
    assert f"/cases/{world.case.pk}/deadlines/{world.nebula.deadline.pk}/done/" in deadline_paths
    assert len(deadline_paths) == 3
    # The "nothing changed" snapshot sees Aurora's rows of every kind, links included.
    state = snapshot(world.agency)
    for label in (
        "cases.Finding",
        "cases.Finding_artists",
        "cases.Case_findings",
        "cases.CaseDeadline",
        "cases.AuditEvent",
        "cases.ImportJob",
        "cases.FanReport",
        "cases.Membership",
        "cases.Platform",
    ):
        assert state[label], label


def test_a_pattern_the_test_cannot_fill_in_fails_by_name(world: World) -> None:
    new_endpoint = Route("widget_detail", "widgets/<int:pk>/", ("pk",))
    path, problem = build_url(new_endpoint, world)
    assert path is None
    assert "'widget_detail'" in problem and "'pk'" in problem
    unnamed = Route(None, "secret/<int:pk>/", ("pk",))
    assert "unnamed pattern" in build_url(unnamed, world)[1]
    odd_kwarg = Route("finding_export", "findings/<int:pk>/<str:fmt>/", ("pk", "fmt"))
    assert "'fmt'" in build_url(odd_kwarg, world)[1]


def test_an_outsider_gets_nothing_of_another_agency_anywhere(world: World) -> None:
    routes, problems = routes_to_probe(world)
    before = snapshot(world.agency)
    client = _client(world.mallory)
    problems += probe_as_outsider(client, "mallory(session)", world, routes)
    assert snapshot(world.agency) == before, "Aurora's data changed"
    assert not problems, "\n".join(problems)


def test_an_outsider_with_an_api_token_gets_nothing_either(world: World) -> None:
    routes, problems = routes_to_probe(world)
    api_routes = [(route, path) for route, path in routes if route.is_api]
    assert len(api_routes) >= 10
    before = snapshot(world.agency)
    client = _client(token=Token.objects.create(user=world.mallory).key)
    problems += probe_as_outsider(client, "mallory(token)", world, api_routes)
    assert snapshot(world.agency) == before, "Aurora's data changed"
    assert not problems, "\n".join(problems)


def test_a_viewer_cannot_write_anywhere(world: World) -> None:
    routes, problems = routes_to_probe(world)
    client = _client(world.carol)  # logging in is audited: take the snapshot after it
    before = snapshot(world.agency)
    body = probe_body(world)
    for route, path in routes:
        if route.name in VIEWER_MAY_WRITE:
            continue
        for method in API_METHODS[1:] if route.is_api else UI_METHODS[1:]:
            response = send(client, method, path, route, body)
            problems += check(
                response,
                who="carol",
                method=method,
                path=path,
                route=route,
                world=world,
                allowed={403, 405},
            )
    # Carol belongs to Aurora, so here the markers are her own agency's data: only statuses count.
    problems = [p for p in problems if "contains Aurora data" not in p]
    assert snapshot(world.agency) == before, "a viewer changed Aurora's data"
    assert not problems, "\n".join(problems)


def test_an_anonymous_visitor_is_sent_to_login_everywhere(world: World) -> None:
    routes, problems = routes_to_probe(world)
    before = snapshot(world.agency)
    client = _client()
    body = probe_body(world)
    login = reverse("login")
    for route, path in routes:
        for method in API_METHODS if route.is_api else UI_METHODS:
            response = send(client, method, path, route, body)
            if route.is_api:
                problems += check(
                    response,
                    who="anonymous",
                    method=method,
                    path=path,
                    route=route,
                    world=world,
                    allowed={401, 403, 405},
                )
                continue
            problems += check(
                response,
                who="anonymous",
                method=method,
                path=path,
                route=route,
                world=world,
                allowed={302, 405},
            )
            if response.status_code == 302 and not response["Location"].startswith(login):
                problems.append(
                    f"anonymous {method.upper()} {path} [{route.name}] redirects to {response['Location']}, not to the login page"
                )
    assert snapshot(world.agency) == before
    assert not problems, "\n".join(problems)


def test_the_django_admin_is_closed_to_agency_users(world: World) -> None:
    for user in (world.mallory, world.alice, world.carol):
        client = _client(user)
        for path in (
            "/admin/",
            "/admin/cases/finding/",
            f"/admin/cases/finding/{world.finding.pk}/change/",
        ):
            response = client.get(path)
            assert response.status_code in (302, 403), (user, path, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith("/admin/login/")
            assert "aurora-secret" not in _body_text(response)


def test_the_api_schema_and_docs_hold_no_agency_data(world: World) -> None:
    client = _client(world.mallory)
    for path in (
        reverse("api:schema"),
        reverse("api:schema") + "?format=json",
        reverse("api:docs"),
        reverse("api:docs") + "?script",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        text = _body_text(response)
        assert not [m for m in world.markers if m.lower() in text], path


def test_mallory_sees_only_her_own_agency_in_lists(world: World) -> None:
    """The positive side of the lists above: her own rows are there, Aurora's are not."""
    client = _client(world.mallory)
    findings = client.get(reverse("api:finding-list")).json()["results"]
    assert [f["canonical_url"] for f in findings] == ["https://www.tiktok.com/@nebula/video/1"]
    artists = client.get(reverse("api:artist-list")).json()["results"]
    assert [a["stage_name"] for a in artists] == ["Nebula Star"]
    page = _body_text(client.get(reverse("finding_list")))
    assert "tiktok.com/@nebula/video/1" in page and "aurora-secret" not in page


def test_the_probe_catches_a_leaking_endpoint(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe is not vacuous: an endpoint that forgets the selector is reported by name."""
    from cases.agency import api as agency_api
    from cases.agency.models import Artist
    from cases.intake import api as intake_api
    from cases.intake.models import Finding

    monkeypatch.setattr(agency_api, "artist_list_for", lambda user: Artist.objects.all())
    monkeypatch.setattr(intake_api, "finding_get_for", lambda user, pk: Finding.objects.get(pk=pk))
    routes, _ = routes_to_probe(world)
    api_routes = [
        (route, path)
        for route, path in routes
        if route.name in ("api:artist-list", "api:finding-detail")
    ]
    problems = probe_as_outsider(_client(world.mallory), "mallory", world, api_routes)
    assert any(
        "[api:artist-list]" in p and "contains Aurora data ['aurora-secret'" in p for p in problems
    )
    assert any(
        "GET /api/findings/" in p and "expected one of [403, 404, 405]" in p for p in problems
    )


def test_a_partner_key_of_one_agency_never_reads_another_agency_bank(world: World) -> None:
    """Aurora publishes a confirmed fake of a consenting artist; the key Nebula issued to
    its own partner reads Nebula's bank only, and Mallory's member token reads nothing."""
    from cases.agency.services.consent import artist_consent_record
    from detection.services.reviews import detection_review_record

    artist_consent_record(artist=world.artist, actor=world.alice)
    detection_review_record(evidence=world.evidence, verdict="confirmed_fake", actor=world.bob)
    path = reverse("api:exchange-bank")
    _aurora_partner, aurora_key = partner_create(agency=world.agency, actor=world.alice, name="A")
    own = _client()
    own.credentials(HTTP_AUTHORIZATION=f"Bearer {aurora_key}")
    assert world.evidence.sha256 in own.get(path).content.decode()

    _partner, nebula_key = partner_create(agency=world.nebula.agency, actor=world.mallory, name="N")
    outsider = _client()
    outsider.credentials(HTTP_AUTHORIZATION=f"Bearer {nebula_key}")
    response = outsider.get(path)
    assert response.status_code == 200
    assert world.evidence.sha256 not in response.content.decode()
    assert not check(
        response,
        who="nebula partner",
        method="get",
        path=path,
        route=Route("api:exchange-bank", path, ()),
        world=world,
        allowed={200},
    )
    token = Token.objects.create(user=world.mallory).key
    assert _client(token=token).get(path).status_code in (401, 403)
