"""The one media-type registry (cases.kernel.media) names every file as the five separate
maps it replaced did, for every type each of them knew; unknown types keep each call
site's former fallback."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cases.evidence.capture.media import media_file_name
from cases.evidence.uploads import ACCEPTED
from cases.kernel.media import MEDIA_TYPES, media_extension, media_suffix
from reports.packet import evidence_path

# The former maps, copied as they were before the registry.
FORMER_DOWNLOAD = {  # cases/evidence/views/evidence.py EXTENSIONS (upload types + these)
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "application/pdf": "pdf",
    "text/html": "html",
    "application/warc": "warc",
    "application/wacz": "wacz",
    "application/json": "json",
    "text/plain": "txt",
}
FORMER_PACKET = dict(FORMER_DOWNLOAD)  # reports/packet.py EXTENSIONS: the same entries
FORMER_CAPTURE = {  # cases/evidence/capture/media.py EXTENSIONS
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/avif": ".avif",
    "image/heic": ".heic",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "video/ogg": ".ogv",
}
FORMER_TRAINING = {  # detection/services.py _suffix
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
}
FORMER_UPLOADS = {  # cases/evidence/uploads.py FileType: (label, extensions)
    "image/jpeg": ("JPEG", ("jpg", "jpeg", "jpe", "jfif")),
    "image/png": ("PNG", ("png",)),
    "image/gif": ("GIF", ("gif",)),
    "image/webp": ("WebP", ("webp",)),
    "video/mp4": ("MP4", ("mp4", "m4v")),
    "video/quicktime": ("QuickTime (MOV)", ("mov", "qt")),
    "video/webm": ("WebM", ("webm",)),
    "application/pdf": ("PDF", ("pdf",)),
}
SHA = "ab" * 32


def _packet_path(media_type: str) -> str:
    item = SimpleNamespace(evidence=SimpleNamespace(media_type=media_type, sha256=SHA))
    return evidence_path(item)  # type: ignore[arg-type]


@pytest.mark.parametrize(("media_type", "extension"), FORMER_DOWNLOAD.items())
def test_downloads_are_named_as_before(media_type: str, extension: str) -> None:
    assert media_extension(media_type) == extension


@pytest.mark.parametrize(("media_type", "extension"), FORMER_PACKET.items())
def test_packet_files_are_named_as_before(media_type: str, extension: str) -> None:
    assert _packet_path(media_type) == f"evidence/{SHA}.{extension}"


@pytest.mark.parametrize(("media_type", "suffix"), FORMER_CAPTURE.items())
def test_captured_media_are_named_as_before(media_type: str, suffix: str) -> None:
    assert media_file_name("http://site.test/v/clip", media_type) == f"clip{suffix}"
    assert media_file_name("http://site.test/v/clip.bin", media_type) == f"clip{suffix}"


@pytest.mark.parametrize(("media_type", "suffix"), FORMER_TRAINING.items())
def test_training_exports_are_named_as_before(media_type: str, suffix: str) -> None:
    assert media_suffix(media_type, default=".bin") == suffix


def test_uploads_accept_the_same_names_and_labels_as_before() -> None:
    accepted = {
        file_type.media_type: (file_type.label, file_type.extensions) for file_type in ACCEPTED
    }
    assert accepted == FORMER_UPLOADS


def test_unknown_types_keep_each_call_sites_fallback() -> None:
    assert media_extension("application/x-unknown") == "bin"
    assert _packet_path("application/x-unknown") == f"evidence/{SHA}.bin"
    assert media_suffix("application/x-unknown", default=".bin") == ".bin"
    assert media_file_name("http://site.test/v/clip.xyz", "application/x-unknown") == "clip.xyz"


def test_the_former_maps_never_disagreed_and_the_registry_holds_them_all() -> None:
    named: dict[str, set[str]] = {}
    for table in (FORMER_DOWNLOAD, FORMER_PACKET, FORMER_CAPTURE, FORMER_TRAINING):
        for media_type, extension in table.items():
            named.setdefault(media_type, set()).add(extension.lstrip("."))
    for media_type, (_label, extensions) in FORMER_UPLOADS.items():
        named.setdefault(media_type, set()).add(extensions[0])
    assert all(len(extensions) == 1 for extensions in named.values())
    assert set(named) <= set(MEDIA_TYPES)
