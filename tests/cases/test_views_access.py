"""Who may see and do what in the web UI: every page renders for Alice (admin), Bob (legal)
and Carol (viewer) as far as their role allows; Carol writes nothing; Mallory (another
agency) gets 404 for Aurora's objects; strangers go to the login page."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from cases.agency.models import Platform
from cases.intake.models import Finding
from cases.intake.services.imports import import_job_create
from cases.kernel.models import Membership
from cases.legal.models import Case
from cases.legal.services.legal_cases import case_create, case_deadline_add

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    # Autouse runs before the persona fixtures, so their passwords hash in microseconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def case(agency, bob, finding, artist):  # type: ignore[no-untyped-def]
    case = case_create(
        agency=agency, actor=bob, title="Deepfake ring", artists=[artist], findings=[finding]
    )
    case_deadline_add(case=case, actor=bob, title="File complaint", due_on=date(2030, 1, 15))
    return case


@pytest.fixture
def job(agency, bob):  # type: ignore[no-untyped-def]
    # Created without running: the on_commit hook never fires inside the test transaction.
    return import_job_create(agency=agency, actor=bob, text="https://example.com/a\n")


@pytest.fixture
def platform(agency):  # type: ignore[no-untyped-def]
    return Platform.objects.filter(agency=agency).order_by("name").first()


@pytest.fixture
def objects(finding, case, job, artist, group, platform, alice):  # type: ignore[no-untyped-def]
    return {
        "finding": finding,
        "case": case,
        "job": job,
        "artist": artist,
        "group": group,
        "platform": platform,
        "membership": Membership.objects.get(user=alice),
        "deadline": case.deadlines.get(),
    }


def _url(name: str, objects: dict) -> str:
    by_name = {
        "finding_detail": "finding",
        "finding_status": "finding",
        "finding_update": "finding",
        "import_detail": "job",
        "import_report": "job",
        "case_detail": "case",
        "case_update": "case",
        "case_findings": "case",
        "case_deadline_add": "case",
        "artist_detail": "artist",
        "artist_update": "artist",
        "group_update": "group",
        "staff_update": "membership",
        "platform_update": "platform",
    }
    if name == "case_deadline_done":
        return reverse(name, args=[objects["case"].pk, objects["deadline"].pk])
    if name in by_name:
        return reverse(name, args=[objects[by_name[name]].pk])
    return reverse(name)


READ_PAGES = [
    "dashboard",
    "finding_list",
    "finding_detail",
    "import_list",
    "import_detail",
    "case_list",
    "case_detail",
    "artist_list",
    "artist_detail",
    "group_list",
    "platform_list",
    "user_settings",
]
WRITER_PAGES = ["finding_create", "import_create", "case_create", "case_update"]
ADMIN_PAGES = [
    "artist_create",
    "artist_update",
    "group_create",
    "group_update",
    "staff_list",
    "staff_create",
    "staff_update",
    "platform_update",
    "audit_list",
]
WRITE_URLS = [
    "finding_create",
    "finding_status",
    "finding_update",
    "finding_bulk_status",
    "import_create",
    "case_create",
    "case_update",
    "case_findings",
    "case_deadline_add",
    "case_deadline_done",
    "artist_create",
    "artist_update",
    "group_create",
    "group_update",
    "staff_create",
    "staff_update",
    "platform_update",
    "audit_list",
]
OBJECT_URLS = [
    "finding_detail",
    "finding_status",
    "finding_update",
    "import_detail",
    "import_report",
    "case_detail",
    "case_update",
    "case_findings",
    "case_deadline_add",
    "case_deadline_done",
    "artist_detail",
    "artist_update",
    "group_update",
    "staff_update",
    "platform_update",
]


@pytest.mark.parametrize("name", READ_PAGES)
@pytest.mark.parametrize("persona", ["alice", "bob", "carol"])
def test_every_member_can_read_the_agency_pages(client, request, objects, persona, name):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(_url(name, objects))
    assert response.status_code == 200
    assert b"AgencyGuard" in response.content


@pytest.mark.parametrize("name", WRITER_PAGES)
def test_admins_and_legal_staff_get_the_forms_and_viewers_do_not(
    client, alice, bob, carol, objects, name
):
    for user, expected in ((alice, 200), (bob, 200), (carol, 403)):
        client.force_login(user)
        assert client.get(_url(name, objects)).status_code == expected, user


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_are_for_admins_only(client, alice, bob, carol, objects, name):
    for user, expected in ((alice, 200), (bob, 403), (carol, 403)):
        client.force_login(user)
        assert client.get(_url(name, objects)).status_code == expected, user


@pytest.mark.parametrize("name", WRITE_URLS)
def test_viewer_posts_are_refused_and_change_nothing(client, carol, objects, name):
    client.force_login(carol)
    findings_before = list(Finding.objects.values_list("pk", "status", "notes"))
    cases_before = list(Case.objects.values_list("pk", "status", "title"))
    response = client.post(
        _url(name, objects),
        {
            "status": "triaged",
            "ids": [objects["finding"].pk],
            "title": "x",
            "url": "https://a.example/x",
        },
    )
    assert response.status_code == 403
    assert list(Finding.objects.values_list("pk", "status", "notes")) == findings_before
    assert list(Case.objects.values_list("pk", "status", "title")) == cases_before


@pytest.mark.parametrize("name", OBJECT_URLS)
def test_outsider_gets_404_for_objects_of_another_agency(client, mallory, objects, name):
    client.force_login(mallory)
    url = _url(name, objects)
    # POST-only URLs answer GET with 405 before looking anything up; the rest must 404.
    assert client.get(url).status_code == (
        404 if name in READ_PAGES + WRITER_PAGES + ADMIN_PAGES + ["import_report"] else 405
    )
    if name in WRITE_URLS:
        assert client.post(url, {"status": "triaged", "title": "x"}).status_code == 404


def test_outsider_lists_show_nothing_of_another_agency(client, mallory, objects):
    client.force_login(mallory)
    for name in ("dashboard", "finding_list", "case_list", "artist_list", "audit_list"):
        content = client.get(reverse(name)).content.decode()
        assert "aurora-secret-1" not in content, name
        assert "Deepfake ring" not in content, name
        assert "Yuna" not in content, name


def test_outsider_cannot_bulk_change_findings_of_another_agency(client, mallory, finding):
    client.force_login(mallory)
    response = client.post(
        reverse("finding_bulk_status"), {"ids": [finding.pk], "status": "triaged"}
    )
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.status == "new"


def test_anonymous_visitors_are_sent_to_the_login_page(client, objects):
    for name in READ_PAGES + WRITER_PAGES + ADMIN_PAGES:
        response = client.get(_url(name, objects))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name


def test_login_page_has_the_contract_fields(client):
    content = client.get(reverse("login")).content.decode()
    assert 'name="username"' in content
    assert 'name="password"' in content
    assert "Log in" in content


def test_login_with_the_form_works(client, bob):
    # Bob (legal staff, no two-factor required); admins' second step: tests/cases/test_twofactor.py
    response = client.post(
        reverse("login"), {"username": "bob", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200


def test_user_without_membership_gets_an_explanation_not_a_crash(client, db):
    root = get_user_model().objects.create_superuser("root", "root@example.test", "pw-root-123456")
    client.force_login(root)
    response = client.get(reverse("finding_list"))
    assert response.status_code == 403
    assert b"not part of an agency" in response.content


def test_legal_names_never_reach_a_viewer(client, carol, objects):
    client.force_login(carol)
    for name in (
        "artist_list",
        "artist_detail",
        "dashboard",
        "finding_detail",
        "case_detail",
        "finding_list",
    ):
        assert b"Kim Yuna-secret" not in client.get(_url(name, objects)).content, name


def test_legal_staff_see_legal_names(client, bob, objects):
    client.force_login(bob)
    assert b"Kim Yuna-secret" in client.get(_url("artist_detail", objects)).content


def test_navigation_hides_what_the_role_cannot_use(client, alice, carol):
    client.force_login(carol)
    content = client.get(reverse("dashboard")).content.decode()
    assert reverse("staff_list") not in content
    assert reverse("finding_create") not in content
    client.force_login(alice)
    content = client.get(reverse("dashboard")).content.decode()
    assert reverse("staff_list") in content
    assert reverse("audit_list") in content


def test_posts_without_a_csrf_token_are_rejected(bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    response = client.post(reverse("finding_create"), {"url": "https://example.com/csrf"})
    assert response.status_code == 403
    assert not Finding.objects.filter(canonical_url__contains="csrf").exists()
    # With the token from the page, the same post goes through.
    client.get(reverse("finding_create"))
    token = client.cookies["csrftoken"].value
    response = client.post(
        reverse("finding_create"), {"url": "https://example.com/csrf", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_htmx_posts_carry_the_csrf_token_in_a_header(client, bob):
    content = client.get(reverse("login")).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in content
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    client.get(reverse("finding_list"))
    token = client.cookies["csrftoken"].value
    response = client.post(
        reverse("finding_create"),
        {"url": "https://example.com/htmx"},
        HTTP_X_CSRFTOKEN=token,
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 302


def test_the_base_layout_has_a_language_switcher(client, alice):
    client.force_login(alice)
    content = client.get(reverse("dashboard")).content.decode()
    assert f'action="{reverse("set_language")}"' in content
    assert '<select name="language"' in content


def test_pages_carry_no_inline_script(client, alice, objects):
    client.force_login(alice)
    for name in READ_PAGES + ADMIN_PAGES:
        content = client.get(_url(name, objects)).content.decode()
        for chunk in content.split("<script")[1:]:
            assert chunk.lstrip().startswith("src="), name
        assert "hx-on" not in content, name
