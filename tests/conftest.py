"""Personas. Alice is the admin of Aurora Entertainment, Bob is on her legal team, Carol
only views, and Mallory is an admin of another agency (Nebula Music): she must never see
anything of Aurora's."""

from __future__ import annotations

import os

import pytest

from agencyguard.celery import app as celery_app
from cases.kernel.models import Role
from cases.kernel.ratelimit import rate_limit_reset
from tests.factories import (
    ArtistFactory,
    GroupFactory,
    MembershipFactory,
    UserFactory,
    make_agency,
    make_finding,
)

IN_CI = os.getenv("CI", "").lower() in ("1", "true") or os.getenv("AG_REQUIRE_SERVICES") == "1"


def require_service(available: bool, reason: str) -> None:
    """Skip a test that needs a service on a bare laptop; in CI a missing service fails it."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"required service unavailable in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def pg(db):  # type: ignore[no-untyped-def]
    """A test about PostgreSQL itself (its triggers): skipped on SQLite, failed in CI."""
    from django.db import connection

    require_service(
        connection.vendor == "postgresql",
        "needs PostgreSQL (DATABASE_URL=postgres://...): the tested triggers exist only there",
    )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """On PostgreSQL the append-only tables refuse TRUNCATE unless the session sets
    agencyguard.allow_truncate (cases migration 0007). pytest-django empties the test
    database with TRUNCATE after transactional tests, so the test database, and only it,
    allows it for every session."""
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            if connection.vendor != "postgresql":
                continue
            with connection.cursor() as cursor:
                name = connection.ops.quote_name(connection.settings_dict["NAME"])
                cursor.execute(f"ALTER DATABASE {name} SET agencyguard.allow_truncate = 'on'")
                cursor.execute("SET agencyguard.allow_truncate = 'on'")


@pytest.fixture(autouse=True)
def _eager_celery(request):  # type: ignore[no-untyped-def]
    """Unit tests run tasks inline; integration tests use a real worker instead."""
    if request.node.get_closest_marker("integration"):
        yield
        return
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _fast_test_settings(settings):  # type: ignore[no-untyped-def]
    settings.AXES_ENABLED = False
    # Password hashing dominated test time; security of test passwords is not a concern.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Recording a finding would queue an RDAP lookup of its host (run inline here, over
    # the network): tests/cases/test_abuse_lookups.py turns it on against its fixture.
    settings.RDAP_LOOKUP_ON_RECORD = False


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):  # type: ignore[no-untyped-def]
    """Rate limits (cases.kernel.ratelimit) count in this process's memory, from zero in
    every test (a test that wants Redis or an outage sets RATE_LIMIT_STORAGE_URL itself)."""
    settings.RATE_LIMIT_STORAGE_URL = "memory://"
    rate_limit_reset()


@pytest.fixture(autouse=True)
def _force_login_passes_two_factor(request, monkeypatch):  # type: ignore[no-untyped-def]
    """Admins (and everyone in an agency that requires it) must pass a second login step
    (cases.agency.middleware). Tests that are not about it log in with `client.force_login`
    and mean a fully logged-in user, so here force_login also marks the session verified,
    exactly as django-otp does after a correct code: a confirmed authenticator of the user
    (one is created for users who must have one) stored in the session. Only users who need
    it get a device; tests of the second step itself are marked `two_factor` and get Django's
    plain force_login (a password-only session)."""
    if request.node.get_closest_marker("two_factor"):
        return
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from cases.agency.services.twofactor import twofactor_required

    real_force_login = Client.force_login

    def force_login(self, user, backend=None):  # type: ignore[no-untyped-def]
        real_force_login(self, user, backend)
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        had_cache = hasattr(user, "_membership_cache")
        required = twofactor_required(user)
        if not had_cache:  # leave the test's user object as it was (membership_for caches)
            user.__dict__.pop("_membership_cache", None)
        if device is None and required:
            device = TOTPDevice.objects.create(user=user, name="test session", confirmed=True)
        if device is not None:
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True)
def _api_throttles_off(settings):  # type: ignore[no-untyped-def]
    """Tests call the API hundreds of times as one user; the throttles themselves are tested
    with real rates in tests/cases/test_api_throttles.py (which sets them back)."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "token": None},
    }


@pytest.fixture(autouse=True)
def _language_and_zone_reset():  # type: ignore[no-untyped-def]
    """Each test starts in the default language and time zone: a request through
    LocaleMiddleware leaves its language active in the thread (as in a web process, where
    the next request sets its own), which a later test's plain gettext would read."""
    from django.utils import timezone, translation

    translation.deactivate()
    timezone.deactivate()
    yield
    translation.deactivate()
    timezone.deactivate()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Evidence blobs and previews of each test go to a fresh directory, never to var/."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _every_capture_passes_wacz_validate(monkeypatch, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Every capture this test makes (in this process) must come with a WACZ that passes
    `wacz validate`: the pipeline is wrapped to keep each capture's WACZ, and they are
    validated when the test ends (a capture without one fails the test too)."""
    from cases.evidence.capture.output import artefact_bytes
    from cases.evidence.capture.pipeline import CapturePipeline

    made: list[tuple[str, bytes | None, str]] = []
    real_run = CapturePipeline.run

    def run(self, url: str, *, label: str):  # type: ignore[no-untyped-def]
        output = real_run(self, url, label=label)
        package = next((a for a in output.artefacts if a.kind == "wacz"), None)
        error = str(output.details.get("wacz", {}).get("error", ""))
        made.append((label, artefact_bytes(package) if package else None, error))
        return output

    monkeypatch.setattr(CapturePipeline, "run", run)
    yield
    if not made:
        return
    from cases.evidence.capture.wacz import WaczError, wacz_validate

    folder = tmp_path_factory.mktemp("wacz")
    problems = []
    for index, (label, data, error) in enumerate(made):
        if data is None:
            problems.append(f"{label}: no WACZ ({error or 'not built'})")
            continue
        path = folder / f"{index}-{label}.wacz"
        path.write_bytes(data)
        try:
            wacz_validate(path)
        except WaczError as exc:
            problems.append(f"{label}: {exc}")
    assert not problems, problems


@pytest.fixture
def agency(db):  # type: ignore[no-untyped-def]
    return make_agency("Aurora Entertainment", "aurora")


@pytest.fixture
def other_agency(db):  # type: ignore[no-untyped-def]
    return make_agency("Nebula Music", "nebula")


def _member(agency, username: str, role: str):  # type: ignore[no-untyped-def]
    return MembershipFactory(agency=agency, role=role, user=UserFactory(username=username)).user


@pytest.fixture
def alice(agency):  # type: ignore[no-untyped-def]
    return _member(agency, "alice", Role.ADMIN)


@pytest.fixture
def bob(agency):  # type: ignore[no-untyped-def]
    return _member(agency, "bob", Role.LEGAL)


@pytest.fixture
def carol(agency):  # type: ignore[no-untyped-def]
    return _member(agency, "carol", Role.VIEWER)


@pytest.fixture
def mallory(other_agency):  # type: ignore[no-untyped-def]
    return _member(other_agency, "mallory", Role.ADMIN)


@pytest.fixture
def group(agency):  # type: ignore[no-untyped-def]
    return GroupFactory(agency=agency, name="Starlight", name_hangul="스타라이트")


@pytest.fixture
def artist(agency, group):  # type: ignore[no-untyped-def]
    artist = ArtistFactory(
        agency=agency,
        stage_name="Yuna",
        name_hangul="유나",
        name_latin="Yuna",
        legal_name="Kim Yuna-secret",
    )
    artist.groups.add(group)
    return artist


@pytest.fixture
def finding(agency, bob, artist):  # type: ignore[no-untyped-def]
    return make_finding(
        agency, "https://www.youtube.com/watch?v=aurora-secret-1", actor=bob, artists=[artist]
    )
