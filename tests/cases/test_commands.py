"""Management commands: the demo seed is idempotent and the audit verifier names the first
broken link with a failing exit status."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from cases.agency.models import Artist, Group
from cases.intake.models import FanReport, Finding
from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import Agency, AuditEvent, Membership
from cases.legal.models import Case
from tests.audit_helpers import EVENTS, as_db_owner, sql
from tests.factories import make_finding

pytestmark = pytest.mark.django_db

SEEDED_MODELS = [Agency, Membership, Group, Artist, Finding, FanReport, Case, AuditEvent]


def _counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in SEEDED_MODELS}
    counts["User"] = get_user_model().objects.count()
    return counts


def _seed(**options: object) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def test_seed_demo_loads_fictional_agencies_and_prints_the_logins(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = True
    output = _seed()
    assert "http://127.0.0.1:8000/" in output
    assert "yuna.admin" in output and "minji.legal" in output and "demo-password" in output
    assert set(Agency.objects.values_list("name", flat=True)) == {
        "Aurora Entertainment",
        "Nebula Music",
    }
    aurora = Agency.objects.get(slug="aurora")
    assert Finding.objects.filter(agency=aurora).count() >= 30
    assert Finding.objects.filter(agency=aurora).values("status").distinct().count() == 7
    assert Artist.objects.filter(agency=aurora, name_hangul="하늘").exists()
    assert Case.objects.filter(agency=aurora).count() == 1
    assert authenticate(username="yuna.admin", password="demo-password") is not None
    for agency in Agency.objects.all():
        assert audit_chain_verify(agency=agency).ok


def test_seed_demo_twice_changes_nothing_and_still_prints_the_logins(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = True
    _seed()
    before = _counts()
    output = _seed()
    assert _counts() == before
    assert "nothing changed" in output
    assert "yuna.admin" in output


def test_seed_demo_refuses_to_run_with_debug_off(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        _seed()
    assert not Agency.objects.exists()


def test_audit_verify_reports_ok_then_names_the_tampered_event(agency, other_agency, bob) -> None:  # type: ignore[no-untyped-def]
    for n in range(4):
        make_finding(agency, f"https://example.com/clip/{n}", actor=bob)
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "OK      aurora" in out.getvalue()
    assert "OK      nebula" in out.getvalue()

    target = AuditEvent.objects.filter(agency=agency).order_by("seq")[2]
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET action = 'finding.forged' WHERE id = %s", [target.pk])
    out = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("audit_verify", stdout=out)
    # manage.py turns a CommandError into exit status 1.
    assert excinfo.value.returncode == 1
    assert f"BROKEN  aurora: event #{target.seq}" in out.getvalue()
    assert "OK      nebula" in out.getvalue()


def test_audit_verify_checks_only_the_named_agency(agency, other_agency, bob) -> None:  # type: ignore[no-untyped-def]
    make_finding(agency, "https://example.com/clip/1", actor=bob)
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET data = '{{}}' WHERE agency_id = %s AND seq = 1", [agency.pk])
    out = StringIO()
    call_command("audit_verify", "--agency", "nebula", stdout=out)
    assert "OK      nebula" in out.getvalue()
    assert "aurora" not in out.getvalue()


def test_audit_verify_rejects_an_unknown_agency(agency) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandError, match="No agency with slug 'nowhere'"):
        call_command("audit_verify", "--agency", "nowhere", stdout=StringIO())
