"""Reference media pages (admins add, members read, outsiders see nothing) and the
finding page's matches panel."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse

from cases.kernel.models import AuditEvent
from cases.matching.models import ReferenceMedia
from tests.factories import make_finding
from tests.matching.conftest import store_image
from tests.matching.images import jpeg_bytes, png_bytes, portrait, scene

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.matching.urls")]


def _upload(client, artist, **overrides):
    data = {
        "title": "Official MV 'Starlight' 2024",
        "source_url": "https://www.youtube.com/watch?v=official",
        "published_on": "2024-03-01",
        "file": SimpleUploadedFile("starlight.png", png_bytes(scene(4)), "image/png"),
        **overrides,
    }
    return client.post(reverse("reference_media_create", args=[artist.pk]), data)


def test_admin_adds_reference_media_and_sees_it_listed(
    client, alice, artist, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    assert client.get(reverse("reference_media_create", args=[artist.pk])).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, artist)
    assert response.status_code == 302
    assert response["Location"] == reverse("reference_media_list", args=[artist.pk])
    reference = ReferenceMedia.objects.get()
    assert reference.artist == artist and reference.created_by == alice
    assert str(reference.published_on) == "2024-03-01"
    page = client.get(reverse("reference_media_list", args=[artist.pk])).content.decode()
    assert "Official MV &#x27;Starlight&#x27; 2024" in page
    assert f'data-reference-id="{reference.pk}"' in page
    reference.evidence.refresh_from_db()
    assert reference.evidence.pdq_hash[:14] in page  # hashed after commit
    index = client.get(reverse("reference_media_index")).content.decode()
    assert f'data-reference-id="{reference.pk}"' in index


def test_a_bad_file_is_refused_with_its_reason_and_nothing_is_stored(client, alice, artist):
    client.force_login(alice)
    svg = SimpleUploadedFile("logo.svg", b"<svg><script>alert(1)</script></svg>", "image/svg+xml")
    response = _upload(client, artist, file=svg)
    assert response.status_code == 400
    assert "SVG images are not accepted" in response.content.decode()
    assert "Nothing was stored." in response.content.decode()
    assert not ReferenceMedia.objects.exists()


def test_legal_staff_and_viewers_read_but_cannot_add(client, bob, carol, artist):
    for user in (bob, carol):
        client.force_login(user)
        assert client.get(reverse("reference_media_list", args=[artist.pk])).status_code == 200
        assert client.get(reverse("reference_media_create", args=[artist.pk])).status_code == 403
        assert _upload(client, artist).status_code == 403
    assert not ReferenceMedia.objects.exists()


def test_outsider_gets_404_for_another_agencys_artist(client, mallory, artist):
    client.force_login(mallory)
    assert client.get(reverse("reference_media_list", args=[artist.pk])).status_code == 404
    assert client.get(reverse("reference_media_create", args=[artist.pk])).status_code == 404
    assert _upload(client, artist).status_code == 404
    assert not ReferenceMedia.objects.exists()
    assert not AuditEvent.objects.filter(action="reference_media.added").exists()


def test_outsider_sees_no_reference_media_in_the_index(
    client, alice, mallory, artist, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, artist)
    outsider = Client()
    outsider.force_login(mallory)
    page = outsider.get(reverse("reference_media_index")).content.decode()
    assert "Starlight" not in page and "data-reference-id" not in page


def _panel(user, finding) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string("cases/_matches_panel.html", {"finding": finding, "request": request})


def test_matches_panel_names_the_artist_the_work_and_the_earlier_finding(
    client, agency, alice, bob, artist, finding, django_capture_on_commit_callbacks
):
    photo = portrait("obama")
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, artist, file=SimpleUploadedFile("official.png", png_bytes(photo)))
    store_image(agency, photo, finding=finding, actor=bob)
    later = make_finding(agency, "https://fakes.example/watch/99", actor=bob)
    store_image(agency, jpeg_bytes(photo, 60), finding=later, actor=bob)

    html = _panel(bob, later)
    assert "data-reference-match" in html
    assert "Yuna" in html and "Official MV &#x27;Starlight&#x27; 2024" in html
    assert reverse("finding_detail", args=[finding.pk]) in html


def test_matches_panel_is_empty_for_an_outsider(agency, bob, mallory, finding):
    photo = portrait("obama")
    store_image(agency, photo, finding=finding, actor=bob)
    later = make_finding(agency, "https://fakes.example/watch/100", actor=bob)
    store_image(agency, jpeg_bytes(photo, 60), finding=later, actor=bob)
    assert "data-match-evidence-id" in _panel(bob, later)
    html = _panel(mallory, later)
    assert "data-match-evidence-id" not in html
    assert "No matches" in html


def test_the_evidence_page_shows_the_trimmed_hash_only_when_there_are_borders(
    client, agency, bob, finding
):
    from tests.matching.conftest import store_image
    from tests.matching.edits import letterbox
    from tests.matching.images import scene

    boxed = store_image(agency, letterbox(scene(50)), finding=finding, actor=bob)
    plain = store_image(agency, scene(51), finding=finding, actor=bob, name="plain.jpg")
    client.force_login(bob)
    page = client.get(reverse("evidence_detail", args=[boxed.pk])).content.decode()
    assert "PDQ hash without borders" in page and boxed.pdq_hash_trimmed in page
    page = client.get(reverse("evidence_detail", args=[plain.pk])).content.decode()
    assert plain.pdq_hash_trimmed == "" and "data-pdq-trimmed" not in page
