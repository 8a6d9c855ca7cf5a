"""The bad-upload table: every hostile or broken file is refused with its own message and
leaves nothing behind (no blob, no row, no audit event). Good files and hostile names go
through, stored under their hash with a sanitised display name."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.evidence.models import CustodyEvent, Evidence
from cases.evidence.uploads import UploadRefused, sanitize_filename, upload_validate
from cases.kernel.models import AuditEvent
from tests.evidence.conftest import stored_files
from tests.evidence.samples import (
    HTML_PAGE,
    SVG_WITH_SCRIPT,
    gif_bytes,
    jpeg_bytes,
    mp4_bytes,
    pdf_bytes,
    png_bomb,
    png_bytes,
    png_with_text,
    webp_bytes,
)

PNG = png_bytes((64, 48))
JPEG = jpeg_bytes((64, 48))
MP4 = mp4_bytes()
PDF = pdf_bytes()
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64

# (case, file name, content, refusal code, words the message must contain)
BAD_UPLOADS = [
    ("empty", "empty.png", b"", "empty", "empty"),
    ("truncated PNG", "cut.png", PNG[: len(PNG) // 2], "truncated", "truncated"),
    ("truncated JPEG", "cut.jpg", JPEG[: len(JPEG) // 2], "corrupt", "damaged or truncated"),
    ("20000x20000 PNG bomb", "bomb.png", png_bomb(), "bomb", "decompression bomb"),
    ("PNG+HTML polyglot", "poly.png", PNG + HTML_PAGE, "polyglot", "web-page or script code"),
    (
        "HTML in PNG metadata",
        "meta.png",
        png_with_text(b"<script>alert(1)</script>"),
        "polyglot",
        "script",
    ),
    (
        "data after IEND",
        "tail.png",
        PNG + b"\x00hidden-zip-or-whatever" * 4,
        "trailing_data",
        "extra data",
    ),
    ("SVG with script", "logo.svg", SVG_WITH_SCRIPT, "svg", "SVG images are not accepted"),
    ("SVG named .png", "logo.png", SVG_WITH_SCRIPT, "svg", "ends in .png"),
    (
        "JPEG name holding a PNG",
        "photo.jpg",
        PNG,
        "extension_mismatch",
        "ends in .jpg, but the file is PNG",
    ),
    ("PNG name holding HTML", "photo.png", HTML_PAGE, "html", "ends in .png"),
    (
        "RTL-override name hiding .js",
        "invoice\u202egnp.js",
        PNG,
        "hostile_name",
        "right-to-left override",
    ),
    ("path traversal name", "../../etc/passwd.png", PNG, "hostile_name", "folder parts"),
    ("no extension", "photo", PNG, "no_extension", "no extension"),
    ("plain text", "notes.txt", b"just some notes\n", "unsupported_type", "not accepted"),
    ("zip archive", "photos.zip", b"PK\x03\x04" + b"\x00" * 100, "archive", "Archives"),
    ("HEIC photo", "photo.heic", HEIC, "heic", "HEIC"),
    ("truncated MP4", "clip.mp4", MP4[:-100], "truncated", "truncated"),
    ("truncated PDF", "doc.pdf", PDF[:-12], "truncated", "truncated"),
    ("over the size cap", "big.png", png_bytes((300, 300)), "too_large", "largest accepted upload"),
]

GOOD_UPLOADS = [
    ("photo.png", PNG, "image/png"),
    ("photo.JPEG", JPEG, "image/jpeg"),
    ("anim.gif", gif_bytes(), "image/gif"),
    ("still.webp", webp_bytes(), "image/webp"),
    ("clip.mp4", MP4, "video/mp4"),
    ("notice.pdf", PDF, "application/pdf"),
]


@pytest.fixture(autouse=True)
def _small_cap(settings):  # type: ignore[no-untyped-def]
    # Big enough for every sample above (the bomb is ~76 KB) but the over-size one (~270 KB).
    settings.EVIDENCE_UPLOAD_MAX_BYTES = 150_000


@pytest.mark.parametrize(
    ("name", "content", "code", "words"),
    [case[1:] for case in BAD_UPLOADS],
    ids=[case[0] for case in BAD_UPLOADS],
)
def test_a_bad_upload_is_refused_with_its_message(name, content, code, words):
    with pytest.raises(UploadRefused) as refused:
        upload_validate(io.BytesIO(content), name=name)
    assert refused.value.code == code
    assert words in refused.value.message


# Django's multipart parser strips path parts before the view sees the name (tested below).
PAGE_BAD_UPLOADS = [case for case in BAD_UPLOADS if case[0] != "path traversal name"]


@pytest.mark.parametrize(
    ("name", "content", "code", "words"),
    [case[1:] for case in PAGE_BAD_UPLOADS],
    ids=[case[0] for case in PAGE_BAD_UPLOADS],
)
def test_a_bad_upload_through_the_page_stores_nothing(
    client, bob, finding, name, content, code, words
):
    client.force_login(bob)
    audit_before = AuditEvent.objects.count()
    upload = SimpleUploadedFile(name, content, content_type="image/png")
    response = client.post(reverse("evidence_upload", args=[finding.pk]), {"file": upload})
    assert response.status_code == (413 if code == "too_large" else 400)
    page = response.content.decode()
    assert "data-upload-error" in page and "Nothing was stored." in page
    assert Evidence.objects.count() == 0
    assert CustodyEvent.objects.count() == 0
    assert AuditEvent.objects.count() == audit_before
    assert stored_files() == []


def test_a_body_far_over_the_cap_is_refused_before_it_is_read(client, bob, finding, settings):
    settings.EVIDENCE_UPLOAD_MAX_BYTES = 1000
    client.force_login(bob)
    upload = SimpleUploadedFile("big.png", png_bytes((256, 256)), content_type="image/png")
    response = client.post(reverse("evidence_upload", args=[finding.pk]), {"file": upload})
    assert response.status_code == 413
    assert "largest accepted upload is 1000" in response.content.decode()
    assert stored_files() == [] and not Evidence.objects.exists()


def test_the_upload_still_checks_csrf(bob, finding):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    upload = SimpleUploadedFile("photo.png", PNG, content_type="image/png")
    response = client.post(reverse("evidence_upload", args=[finding.pk]), {"file": upload})
    assert response.status_code == 403
    assert not Evidence.objects.exists()


def test_a_post_without_a_file_says_so(client, bob, finding):
    client.force_login(bob)
    response = client.post(reverse("evidence_upload", args=[finding.pk]), {})
    assert response.status_code == 400
    assert "Choose a file to upload." in response.content.decode()


@pytest.mark.parametrize(("name", "content", "media_type"), GOOD_UPLOADS)
def test_a_good_file_is_accepted(client, bob, finding, name, content, media_type):
    client.force_login(bob)
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    response = client.post(reverse("evidence_upload", args=[finding.pk]), {"file": upload})
    evidence = Evidence.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("evidence_detail", args=[evidence.pk])
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.media_type == media_type
    assert evidence.finding == finding and evidence.uploaded_by == bob
    assert evidence.kind == "upload"


@pytest.mark.parametrize(
    "hostile",
    ["../../etc/passwd.png", "/etc/passwd.png", "..\\..\\windows\\passwd.png", "pass\u202ewd.png"],
)
def test_a_hostile_name_is_refused_and_nothing_is_stored(hostile):
    with pytest.raises(UploadRefused, match="folder parts or hidden control characters") as refused:
        upload_validate(io.BytesIO(PNG), name=hostile)
    assert refused.value.code == "hostile_name"


@pytest.mark.parametrize(
    "hostile",
    ["../../etc/passwd.png", "/etc/passwd.png", "..\\..\\windows\\passwd.png"],
)
def test_path_parts_never_reach_storage_through_the_page(client, bob, finding, hostile):
    # Django's multipart parser keeps only the last path component, so the page stores the
    # file under its hash with the plain name; nothing lands outside the evidence store.
    client.force_login(bob)
    upload = SimpleUploadedFile(hostile, PNG, content_type="image/png")
    response = client.post(reverse("evidence_upload", args=[finding.pk]), {"file": upload})
    assert response.status_code == 302
    evidence = Evidence.objects.get()
    assert evidence.original_name == "passwd.png"
    files = stored_files()
    assert [f.name for f in files if "sha256" in f.parts] == [evidence.sha256]
    assert not [f for f in files if "passwd" in str(f) or "etc" in f.parts]


def test_the_same_upload_twice_points_at_the_first_evidence(client, bob, finding):
    client.force_login(bob)
    url = reverse("evidence_upload", args=[finding.pk])
    client.post(url, {"file": SimpleUploadedFile("a.png", PNG)})
    response = client.post(url, {"file": SimpleUploadedFile("b.png", PNG)}, follow=True)
    assert Evidence.objects.count() == 1
    assert "already stored as evidence" in response.content.decode()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("/etc/passwd.png", "passwd.png"),
        ("C:\\Users\\x\\evil.png", "evil.png"),
        ("photo\u202egnp.exe", "photognp.exe"),
        ("a\x00b\x07c.png", "abc.png"),
        ("zero\u200bwidth.png", "zerowidth.png"),
        ("..", "upload"),
        ("", "upload"),
        ("  .hidden.png ", "hidden.png"),
        ("유나 사진 (1).png", "유나 사진 (1).png"),
        ("\uff46\uff55\uff4c\uff4c\uff0f\uff57\uff49\uff44\uff54\uff48.png", "width.png"),
        ("<script>alert(1)</script>.png", "script_.png"),
    ],
)
def test_sanitize_filename(raw, shown):
    assert sanitize_filename(raw) == shown


def test_a_very_long_name_keeps_its_extension():
    shown = sanitize_filename("x" * 5000 + ".png")
    assert len(shown) <= 120 and shown.endswith(".png")


def test_pillow_bomb_protection_holds_even_if_pillow_is_switched_off(monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(UploadRefused) as refused:
        upload_validate(io.BytesIO(png_bomb()), name="bomb.png")
    assert refused.value.code == "bomb"
