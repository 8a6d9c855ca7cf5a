"""Triage ergonomics: the side preview panel (blurred media, tenancy, bounded queries),
assignable users in the API, the listed keyboard shortcuts against the handlers in app.js,
and checkbox lists in place of `<select multiple>`."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from cases.evidence.models import EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from cases.intake.forms import FindingCreateForm
from cases.kernel.widgets import ChoiceList
from cases.notices.services.drafts import notice_create
from tests.cases.test_views_i18n import korean_catalog  # noqa: F401 - fixture
from tests.evidence.samples import png_bytes
from tests.factories import ArtistFactory


def _image(agency, finding, bob, seed: int = 3):  # type: ignore[no-untyped-def]
    item, _created = evidence_ingest(
        agency=agency,
        data=png_bytes((320, 240), seed=seed),
        kind=EvidenceKind.UPLOAD,
        collected_by=bob,
        finding=finding,
        original_name=f"shot-{seed}.png",
    )
    return item


def _preview(finding) -> str:  # type: ignore[no-untyped-def]
    return reverse("finding_preview", args=[finding.pk])


# --- The side preview ---------------------------------------------------------------------


def test_the_preview_shows_the_finding_with_a_blurred_thumbnail(client, agency, bob, finding):
    item = _image(agency, finding, bob)
    notice_create(agency=agency, actor=bob, findings=[finding], legal_basis="platform_policy")
    client.force_login(bob)
    response = client.get(_preview(finding), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    content = response.content.decode()
    assert finding.canonical_url in content
    assert "YouTube" in content and "Yuna" in content
    assert "data-preview-notice" in content and "Draft" in content
    assert "Not captured yet" in content
    # The thumbnail is the blurred preview; nothing in the panel points at an unblurred one.
    preview_url = reverse("evidence_preview", args=[item.pk])
    assert f'src="{preview_url}"' in content
    assert "?reveal=" not in content
    assert f"Blurred preview of evidence #{item.pk}" in content
    # The reveal is the evidence page's audited POST.
    assert reverse("evidence_reveal", args=[item.pk]) in content
    assert 'name="confirm"' in content  # "keep all media blurred" is on by default


def test_a_viewer_sees_the_blurred_thumbnail_but_no_reveal(client, agency, bob, carol, finding):
    item = _image(agency, finding, bob)
    client.force_login(carol)
    content = client.get(_preview(finding)).content.decode()
    assert reverse("evidence_preview", args=[item.pk]) in content
    assert reverse("evidence_reveal", args=[item.pk]) not in content


def test_a_finding_without_images_says_so(client, bob, finding):
    client.force_login(bob)
    content = client.get(_preview(finding)).content.decode()
    assert "No image evidence yet." in content
    assert "No notice yet" in content


def test_an_outsider_gets_404_for_the_preview(client, mallory, finding):
    client.force_login(mallory)
    assert client.get(_preview(finding)).status_code == 404


def test_the_preview_reads_a_fixed_number_of_queries(client, agency, bob, finding):
    client.force_login(bob)
    _image(agency, finding, bob, seed=1)
    with CaptureQueriesContext(connection) as few:
        assert client.get(_preview(finding)).status_code == 200
    for seed in range(2, 8):
        _image(agency, finding, bob, seed=seed)
    for n in range(3):
        finding.artists.add(ArtistFactory(agency=agency, stage_name=f"Extra {n}"))
        notice_create(agency=agency, actor=bob, findings=[finding], legal_basis="platform_policy")
    with CaptureQueriesContext(connection) as many:
        assert client.get(_preview(finding)).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
    assert len(few.captured_queries) <= 12, [q["sql"] for q in few.captured_queries]


def test_triage_rows_name_their_preview_and_the_page_has_the_panel(client, bob, finding):
    client.force_login(bob)
    content = client.get(reverse("finding_list")).content.decode()
    assert f'data-preview="{_preview(finding)}"' in content
    assert 'id="finding-preview"' in content


# --- Assignees: only users who can write --------------------------------------------------


def test_the_api_refuses_a_viewer_as_assignee(bob, carol, alice, finding):
    client = APIClient()
    client.force_login(bob)
    url = reverse("api:finding-detail", args=[finding.pk])
    response = client.patch(url, {"assignee": carol.pk}, format="json")
    assert response.status_code == 400
    finding.refresh_from_db()
    assert finding.assignee_id is None
    # The contrary case: an admin (who can write) is accepted.
    assert client.patch(url, {"assignee": alice.pk}, format="json").status_code == 200


# --- Keyboard shortcuts: listed == handled ------------------------------------------------

JS = Path(settings.BASE_DIR) / "static" / "js" / "app.js"
TEMPLATE = Path(settings.BASE_DIR) / "templates" / "cases" / "_triage_shortcut_help.html"
NAMES = {"Esc": "Escape"}


def _handled_keys() -> set[str]:
    source = JS.read_text()
    cases = set(re.findall(r'case "([^"]+)":', source))
    compared = set(re.findall(r'event\.key === "([^"]+)"', source))
    return cases | compared


def _listed_keys() -> set[str]:
    source = TEMPLATE.read_text()
    help_box = source[source.index('id="shortcut-help"') :]
    return {NAMES.get(key, key) for key in re.findall(r"<kbd>([^<]+)</kbd>", help_box)}


def test_every_listed_shortcut_is_handled_and_every_handled_key_is_listed():
    assert _listed_keys() == _handled_keys()
    assert {"j", "k", "p", "Enter", "o", "x", "t", "d", "/", "?", "Escape"} <= _listed_keys()


def test_the_shortcut_help_is_translated(client, bob, finding, korean_catalog):  # noqa: F811
    client.force_login(bob)
    client.post(reverse("set_language"), {"language": "ko", "next": reverse("finding_list")})
    content = client.get(reverse("finding_list")).content.decode()
    assert "사이드 패널" in content


# --- Multi-selects are checkbox lists in a fieldset ---------------------------------------


def test_no_form_uses_a_select_multiple():
    plain = re.compile(r"(?<!Checkbox)SelectMultiple\b")
    offenders = [
        str(path)
        for package in ("cases", "detection", "reports")
        for path in (Path(settings.BASE_DIR) / package).rglob("*.py")
        if plain.search(path.read_text())
    ]
    assert offenders == []


def test_the_artist_choice_is_a_fieldset_of_checkboxes(agency, artist):
    form = FindingCreateForm(artists=agency.artists.all())
    assert isinstance(form.fields["artists"].widget, ChoiceList)
    html = str(form)
    assert "<select" not in html
    assert re.search(r"<fieldset>\s*<legend>Artists depicted", html), html
    assert 'type="checkbox" name="artists"' in html
    assert "data-choice-list" in html and 'data-filter-label="Filter the list"' in html


def test_a_checkbox_list_still_posts_several_values(client, bob, agency, artist):
    other = ArtistFactory(agency=agency, stage_name="Mina")
    client.force_login(bob)
    client.post(
        reverse("finding_create"),
        {"url": "https://www.youtube.com/watch?v=two-artists", "artists": [artist.pk, other.pk]},
    )
    finding = agency.findings.get(canonical_url__contains="two-artists")
    assert set(finding.artists.values_list("pk", flat=True)) == {artist.pk, other.pk}
