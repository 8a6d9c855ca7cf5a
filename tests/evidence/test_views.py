"""Viewing without harm: headers on every evidence byte, blurred previews, logged reveals,
and tenancy (Mallory of Nebula reaches nothing of Aurora's, by id or otherwise)."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import NoReverseMatch, reverse
from PIL import Image, ImageFilter, ImageStat

from cases.evidence.models import CustodyAction, CustodyEvent, Evidence, EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from cases.kernel.models import AuditEvent
from cases.kernel.storage import derived_name
from tests.evidence.conftest import stored_files
from tests.evidence.samples import mp4_bytes, png_bytes

EVIDENCE_VIEWS = ("evidence_detail", "evidence_preview", "evidence_reveal", "evidence_download")


def edge_energy(image: Image.Image) -> float:
    """Mean edge strength: high for detail, near zero for a blurred picture."""
    edges = image.convert("L").filter(ImageFilter.FIND_EDGES)
    return ImageStat.Stat(edges).mean[0]


def custody_actions(evidence: Evidence) -> list[str]:
    return list(evidence.custody_events.values_list("action", flat=True))


def reveal(client, evidence, **data):  # type: ignore[no-untyped-def]
    return client.post(reverse("evidence_reveal", args=[evidence.pk]), data)


# ---------------------------------------------------------------------------- download


def test_the_original_downloads_as_an_attachment_named_by_hash(client, bob, evidence, image_bytes):
    client.force_login(bob)
    response = client.get(reverse("evidence_download", args=[evidence.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == image_bytes
    assert response["Content-Disposition"] == f'attachment; filename="{evidence.sha256}.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Type"] == "image/png"
    assert custody_actions(evidence) == ["collected", "downloaded"]
    downloaded = CustodyEvent.objects.get(evidence=evidence, action="downloaded")
    assert downloaded.actor == bob
    assert AuditEvent.objects.filter(
        action="evidence.downloaded", object_id=str(evidence.pk)
    ).exists()


def test_captured_html_downloads_as_a_file_never_as_a_page(client, bob, agency, finding):
    html, _ = evidence_ingest(
        agency=agency,
        data=b"<html><script>alert(1)</script></html>",
        kind=EvidenceKind.HTML,
        finding=finding,
        media_type="text/html",
    )
    client.force_login(bob)
    response = client.get(reverse("evidence_download", args=[html.pk]))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Disposition"].endswith(f'{html.sha256}.html"')
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_missing_original_is_a_404_not_a_crash(client, bob, evidence, settings):
    from pathlib import Path

    (Path(settings.MEDIA_ROOT) / evidence.storage_name).unlink()
    client.force_login(bob)
    assert client.get(reverse("evidence_download", args=[evidence.pk])).status_code == 404
    assert custody_actions(evidence) == ["collected"]


# ---------------------------------------------------------------------------- preview


def test_the_preview_is_a_blurred_derivative(client, carol, evidence, image_bytes, settings):
    client.force_login(carol)
    response = client.get(reverse("evidence_preview", args=[evidence.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"] == 'inline; filename="preview.jpg"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    preview = Image.open(io.BytesIO(response.content))
    assert max(preview.size) <= 480
    original = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    original.thumbnail(preview.size)
    assert edge_energy(preview) < edge_energy(original) / 20
    # Cached apart from the originals, and never over them.
    from pathlib import Path

    cached = Path(settings.MEDIA_ROOT) / derived_name(evidence.sha256, "blur.jpg")
    assert cached.read_bytes() == response.content
    assert (Path(settings.MEDIA_ROOT) / evidence.storage_name).read_bytes() == image_bytes


def test_a_video_preview_is_a_neutral_placeholder(client, bob, agency, finding):
    video, _ = evidence_ingest(
        agency=agency, data=mp4_bytes(), kind=EvidenceKind.MEDIA, finding=finding
    )
    client.force_login(bob)
    response = client.get(reverse("evidence_preview", args=[video.pk]))
    assert response.status_code == 200
    placeholder = Image.open(io.BytesIO(response.content))
    assert placeholder.size == (320, 240)
    page = client.get(reverse("evidence_detail", args=[video.pk])).content.decode()
    assert "No image preview for this kind of file." in page
    assert "data-evidence-reveal" not in page


# ---------------------------------------------------------------------------- detail and reveal


def test_the_detail_page_shows_metadata_and_custody_and_logs_the_view(client, carol, evidence):
    client.force_login(carol)
    response = client.get(reverse("evidence_detail", args=[evidence.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert evidence.sha256 in page
    assert "aurora-secret-photo.png" in page
    assert reverse("evidence_preview", args=[evidence.pk]) + '"' in page  # no reveal token
    assert "Preview (blurred)" in page
    # A viewer sees neither the download link nor the reveal form.
    assert "data-evidence-download" not in page and "data-evidence-reveal" not in page
    assert custody_actions(evidence) == ["collected", "viewed"]
    assert "Collected" in page and "Viewed" in page


def test_reveal_is_logged_with_its_reason_and_shows_the_unblurred_preview(
    client, bob, evidence, image_bytes
):
    client.force_login(bob)
    response = reveal(client, evidence, reason="checking the face for the notice", confirm="yes")
    assert response.status_code == 302
    revealed = CustodyEvent.objects.get(evidence=evidence, action=CustodyAction.REVEALED)
    assert revealed.actor == bob and revealed.reason == "checking the face for the notice"
    assert AuditEvent.objects.filter(
        action="evidence.revealed", object_id=str(evidence.pk)
    ).exists()

    page = client.get(response["Location"]).content.decode()
    assert "Preview (unblurred)" in page
    token = parse_qs(urlsplit(response["Location"]).query)["reveal"][0]
    unblurred = client.get(reverse("evidence_preview", args=[evidence.pk]), {"reveal": token})
    assert unblurred.status_code == 200
    assert unblurred["Content-Disposition"].startswith("inline")
    blurred = client.get(reverse("evidence_preview", args=[evidence.pk]))
    sharp = Image.open(io.BytesIO(unblurred.content))
    soft = Image.open(io.BytesIO(blurred.content)).resize(sharp.size)
    assert edge_energy(sharp) > 10 * edge_energy(soft)


def test_keep_everything_blurred_requires_confirmation_for_each_reveal(client, bob, evidence):
    assert bob.membership.always_blur  # the default
    client.force_login(bob)
    response = reveal(client, evidence, reason="no tick")
    assert response.status_code == 302 and "reveal=" not in response["Location"]
    assert CustodyAction.REVEALED not in custody_actions(evidence)
    page = client.get(response["Location"]).content.decode()
    assert "tick the confirmation box" in page


def test_without_keep_blurred_one_click_reveals(client, bob, evidence):
    bob.membership.always_blur = False
    bob.membership.save()
    client.force_login(bob)
    response = reveal(client, evidence)
    assert "reveal=" in response["Location"]
    assert CustodyAction.REVEALED in custody_actions(evidence)


def test_a_reveal_token_works_only_for_its_user_and_item(client, alice, bob, agency, evidence):
    client.force_login(bob)
    location = reveal(client, evidence, confirm="yes")["Location"]
    token = parse_qs(urlsplit(location).query)["reveal"][0]
    other, _ = evidence_ingest(
        agency=agency, data=png_bytes((50, 50), seed=9), kind=EvidenceKind.UPLOAD
    )
    assert (
        client.get(reverse("evidence_preview", args=[other.pk]), {"reveal": token}).status_code
        == 403
    )
    client.force_login(alice)
    assert (
        client.get(reverse("evidence_preview", args=[evidence.pk]), {"reveal": token}).status_code
        == 403
    )
    assert (
        client.get(
            reverse("evidence_preview", args=[evidence.pk]), {"reveal": "forged"}
        ).status_code
        == 403
    )


def test_a_reveal_token_expires(client, bob, evidence):
    import time_machine

    with time_machine.travel("2030-01-01 00:00:00+00:00", tick=False):
        client.force_login(bob)
        location = reveal(client, evidence, confirm="yes")["Location"]
    token = parse_qs(urlsplit(location).query)["reveal"][0]
    url = reverse("evidence_preview", args=[evidence.pk])
    with time_machine.travel("2030-01-01 00:04:00+00:00", tick=False):
        assert client.get(url, {"reveal": token}).status_code == 200
    with time_machine.travel("2030-01-01 00:10:00+00:00", tick=False):
        assert client.get(url, {"reveal": token}).status_code == 403


# ---------------------------------------------------------------------------- roles and tenancy


def test_a_viewer_sees_blurred_previews_but_cannot_upload_reveal_or_download(
    client, carol, evidence, finding
):
    client.force_login(carol)
    assert client.get(reverse("evidence_detail", args=[evidence.pk])).status_code == 200
    assert client.get(reverse("evidence_preview", args=[evidence.pk])).status_code == 200
    assert client.get(reverse("evidence_download", args=[evidence.pk])).status_code == 403
    assert reveal(client, evidence, confirm="yes").status_code == 403
    upload = SimpleUploadedFile("photo.png", png_bytes((20, 20)))
    url = reverse("evidence_upload", args=[finding.pk])
    assert client.post(url, {"file": upload}).status_code == 403
    assert client.get(url).status_code == 403
    assert Evidence.objects.count() == 1
    assert custody_actions(evidence) == ["collected", "viewed"]


def test_an_outsider_gets_404_for_every_evidence_url(client, mallory, evidence, finding):
    client.force_login(mallory)
    files_before = stored_files()
    for name in EVIDENCE_VIEWS:
        url = reverse(name, args=[evidence.pk])
        response = (
            client.post(url, {"confirm": "yes"}) if name == "evidence_reveal" else client.get(url)
        )
        assert response.status_code == 404, name
        assert b"aurora" not in response.content.lower()
    upload = SimpleUploadedFile("photo.png", png_bytes((20, 20)))
    response = client.post(reverse("evidence_upload", args=[finding.pk]), {"file": upload})
    assert response.status_code == 404
    assert client.get(reverse("evidence_upload", args=[finding.pk])).status_code == 404
    assert custody_actions(evidence) == ["collected"]
    assert Evidence.objects.count() == 1
    assert stored_files() == files_before  # not even a preview was built for her


def test_guessing_ids_never_reaches_another_agencys_evidence(
    client, mallory, other_agency, evidence
):
    mine, _ = evidence_ingest(
        agency=other_agency, data=png_bytes((30, 30), seed=5), kind=EvidenceKind.UPLOAD
    )
    client.force_login(mallory)
    assert client.get(reverse("evidence_detail", args=[mine.pk])).status_code == 200
    for guess in range(max(mine.pk, evidence.pk) + 3):
        if guess == mine.pk:
            continue
        for name in ("evidence_detail", "evidence_preview", "evidence_download"):
            assert client.get(reverse(name, args=[guess])).status_code == 404, (name, guess)


def test_there_is_no_route_by_hash(client, bob, evidence):
    client.force_login(bob)
    for name in EVIDENCE_VIEWS:
        with pytest.raises(NoReverseMatch):
            reverse(name, args=[evidence.sha256])
    for path in (
        f"/evidence/{evidence.sha256}/",
        f"/evidence/sha256/{evidence.sha256}",
        f"/{evidence.storage_name}",
        f"/media/{evidence.storage_name}",
    ):
        assert client.get(path).status_code == 404, path


def test_anonymous_visitors_are_sent_to_log_in(client, evidence):
    for name in ("evidence_detail", "evidence_preview", "evidence_download"):
        response = client.get(reverse(name, args=[evidence.pk]))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_finding_panel_lists_evidence_and_the_upload_form(rf, bob, carol, finding, evidence):
    from django.template.loader import render_to_string

    def panel(user):  # type: ignore[no-untyped-def]
        request = rf.get("/")
        request.user = user
        context = {"finding": finding, "request": request, "can_write": user.membership.can_write}
        return render_to_string("cases/_evidence_panel.html", context, request=request)

    html = panel(bob)
    assert f'data-evidence-id="{evidence.pk}"' in html
    assert reverse("evidence_preview", args=[evidence.pk]) in html
    assert reverse("evidence_upload", args=[finding.pk]) in html
    viewer_html = panel(carol)
    assert f'data-evidence-id="{evidence.pk}"' in viewer_html
    assert reverse("evidence_upload", args=[finding.pk]) not in viewer_html


def test_the_upload_page_renders_for_legal_staff(client, bob, finding):
    client.force_login(bob)
    response = client.get(reverse("evidence_upload", args=[finding.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="file"' in page and 'enctype="multipart/form-data"' in page
    assert finding.canonical_url in page


def test_a_video_cannot_be_revealed(client, bob, agency, finding):
    video, _ = evidence_ingest(
        agency=agency, data=mp4_bytes(), kind=EvidenceKind.MEDIA, finding=finding
    )
    client.force_login(bob)
    response = reveal(client, video, confirm="yes")
    assert "reveal=" not in response["Location"]
    assert CustodyAction.REVEALED not in custody_actions(video)
    assert "no image preview to reveal" in client.get(response["Location"]).content.decode()
