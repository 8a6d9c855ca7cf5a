"""Validation of evidence files uploaded by staff, before anything is stored.

The rules, in order (the first that fails refuses the file with its own message):
1. not empty, not over EVIDENCE_UPLOAD_MAX_BYTES;
2. the type is sniffed from the bytes (magic numbers), never taken from the name or the
   browser: JPEG, PNG, GIF, WebP, MP4, MOV, WebM and PDF are accepted; SVG, HTML, archives,
   programs and everything else are refused;
3. the file name's extension must agree with the sniffed type (a .jpg holding a PNG, or a
   .png holding HTML, is refused: a mismatch is how polyglots get through);
4. images: no markup (HTML, script, SVG) in their first or last 64 KiB or in PNG text
   chunks, no data after the end of a PNG or WebP, not truncated, at most
   EVIDENCE_IMAGE_MAX_PIXELS pixels (Pillow's decompression-bomb warning is an error here),
   and they must decode fully with Pillow restricted to the sniffed format;
   videos: the MP4/MOV box structure must end exactly at the end of the file;
   PDF: the end-of-file marker must be present (not truncated).

The name the browser sent is only display text: sanitize_filename() keeps its last path
component without control or bidirectional-override characters. Files are stored under
their SHA-256, never under that name.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image

from cases.kernel.media import MEDIA_TYPES

SNIFF_BYTES = 8192
MARKUP_WINDOW = 64 * 1024
MAX_DISPLAY_NAME = 120
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
# Pillow's own default warning threshold (about 89.5 megapixels), enforced explicitly so a
# global change of Image.MAX_IMAGE_PIXELS elsewhere cannot switch the protection off.
DEFAULT_MAX_PIXELS = 89_478_485
# Markup that makes an image file double as a web page or script (a polyglot).
MARKUP = (
    b"<html",
    b"<!doctype html",
    b"<head",
    b"<body",
    b"<script",
    b"<svg",
    b"<iframe",
    b"<object",
    b"<embed",
    b"<?php",
    b"javascript:",
)
MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"M4V ", b"M4VH", b"M4VP", b"mmp4", b"dash", b"MSNV", b"3gp4", b"3gp5", b"3gp6",
    b"3g2a", b"f4v ", b"XAVC",
}  # fmt: skip
IMAGE_BRANDS = {
    b"heic",
    b"heix",
    b"heim",
    b"heis",
    b"hevc",
    b"hevx",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
}


@dataclass(frozen=True)
class FileType:
    """One accepted format: what we call it, its media type, the extensions that may name
    it, and the Pillow decoder allowed to open it (images only)."""

    key: str
    label: str
    media_type: str
    extensions: tuple[str, ...]
    pillow_format: str | None = None

    @property
    def is_image(self) -> bool:
        return self.pillow_format is not None


def _accepted(key: str, media_type: str, pillow_format: str | None = None) -> FileType:
    # Label and extensions from the kernel's registry, so a name we accept is a name we give.
    entry = MEDIA_TYPES[media_type]
    return FileType(key, entry.label, media_type, entry.extensions, pillow_format)


JPEG = _accepted("jpeg", "image/jpeg", "JPEG")
PNG = _accepted("png", "image/png", "PNG")
GIF = _accepted("gif", "image/gif", "GIF")
WEBP = _accepted("webp", "image/webp", "WEBP")
MP4 = _accepted("mp4", "video/mp4")
MOV = _accepted("mov", "video/quicktime")
WEBM = _accepted("webm", "video/webm")
PDF = _accepted("pdf", "application/pdf")
ACCEPTED = (JPEG, PNG, GIF, WEBP, MP4, MOV, WEBM, PDF)
FILE_TYPES = {file_type.key: file_type for file_type in ACCEPTED}


class UploadRefused(Exception):
    """A refused upload: `code` for programs and tests, `message` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ValidatedUpload:
    file_type: FileType
    display_name: str
    size: int
    width: int | None = None
    height: int | None = None


def max_upload_bytes() -> int:
    return int(getattr(settings, "EVIDENCE_UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_image_pixels() -> int:
    return int(getattr(settings, "EVIDENCE_IMAGE_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def accepted_labels() -> str:
    return ", ".join(file_type.label for file_type in ACCEPTED)


# ------------------------------------------------------------------------- file names


def sanitize_filename(name: str) -> str:
    """Display text for a file name sent by a browser (or an attacker): the last path
    component, NFKC-normalised, without control, format (bidi overrides such as U+202E,
    zero-width characters), surrogate or unassigned characters, with anything but letters,
    digits and a few punctuation marks replaced by "_", and at most 120 characters with the
    extension kept. Letters of any script stay (Korean names are common)."""
    text = unicodedata.normalize("NFKC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    text = "".join(ch if ch.isalnum() or ch in " ._-()[]+,@" else "_" for ch in text)
    text = re.sub(r"\s+", " ", text).strip(" ._")
    if not text:
        return "upload"
    if len(text) > MAX_DISPLAY_NAME:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: MAX_DISPLAY_NAME - len(ext) - 1].rstrip(" ._") + "." + ext
        else:
            text = text[:MAX_DISPLAY_NAME]
    return text


def _is_hostile_name(name: str) -> bool:
    """Names no honest browser sends: path parts (browsers send the last component only;
    Django's multipart parser strips them too, so this guards other callers) or control and
    format characters (bidi overrides, zero-width, NUL) that make a name read differently
    from what it is."""
    if re.search(r"[/\\]", name) or name.strip() in (".", ".."):
        return True
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name)


def extension_of(display_name: str) -> str:
    stem, dot, ext = display_name.rpartition(".")
    return ext.lower() if dot and stem else ""


# ------------------------------------------------------------------------- sniffing


def _text_start(head: bytes) -> bytes:
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()


def sniff(head: bytes) -> FileType | None:
    """The accepted type the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return MOV
        if brand in MP4_BRANDS:
            return MP4
        return None
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"\x42\x82\x84webm" in head[:64]:
        return WEBM
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def _refused_kind(head: bytes) -> tuple[str, str] | None:
    """Recognisable types we refuse, with the reason, so the message can say what it is."""
    text = _text_start(head)
    lowered = head[:SNIFF_BYTES].lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in lowered):
        return "svg", _(
            "SVG images are not accepted: they can contain scripts. Export the image as PNG "
            "or JPEG and upload that."
        )
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")) or (
        text.startswith(b"<") and b"<html" in lowered
    ):
        return "html", _(
            "HTML documents are not accepted as uploads: they can run scripts. To keep a web "
            "page as evidence, record its URL and capture it."
        )
    if head[4:8] == b"ftyp" and head[8:12] in IMAGE_BRANDS:
        return "heic", _("HEIC and AVIF images are not accepted. Convert the image to JPEG or PNG.")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska", _("Matroska (MKV) video is not accepted. Convert it to MP4 or WebM.")
    if head.startswith((b"PK\x03\x04", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")):
        return "archive", _("Archives are not accepted. Upload the files inside it one by one.")
    if head.startswith((b"MZ", b"\x7fELF", b"#!")):
        return "program", _("Programs and scripts are not accepted.")
    return None


# ------------------------------------------------------------------------- structure checks


def _read_at(fileobj: IO[bytes], offset: int, size: int) -> bytes:
    fileobj.seek(offset)
    return fileobj.read(size)


def _check_markup(fileobj: IO[bytes], size: int) -> None:
    windows = [_read_at(fileobj, 0, MARKUP_WINDOW)]
    if size > MARKUP_WINDOW:
        windows.append(_read_at(fileobj, max(MARKUP_WINDOW, size - MARKUP_WINDOW), MARKUP_WINDOW))
    for window in windows:
        lowered = window.lower()
        if any(marker in lowered for marker in MARKUP):
            raise UploadRefused(
                "polyglot",
                _(
                    "The image contains web-page or script code (HTML, JavaScript or SVG) "
                    "next to the picture. Files that are two things at once are refused."
                ),
            )


def _truncated() -> UploadRefused:
    return UploadRefused(
        "truncated",
        _("The file is truncated: it ends before its data is complete. Upload the whole file."),
    )


def _trailing() -> UploadRefused:
    return UploadRefused(
        "trailing_data",
        _(
            "The image has extra data after its end. Files that hide something after the "
            "picture are refused."
        ),
    )


def _check_png(fileobj: IO[bytes], size: int) -> None:
    """Walk the chunks to IEND: truncated files, data after IEND, and markup in text
    chunks are refused."""
    offset = 8
    while True:
        header = _read_at(fileobj, offset, 8)
        if len(header) < 8:
            raise _truncated()
        length, chunk_type = struct.unpack(">I4s", header)
        end = offset + 8 + length + 4
        if end > size:
            raise _truncated()
        if chunk_type in (b"tEXt", b"iTXt") and length <= 1024 * 1024:
            data = _read_at(fileobj, offset + 8, length).lower()
            if any(marker in data for marker in MARKUP):
                raise UploadRefused(
                    "polyglot",
                    _("The image's text metadata contains web-page or script code. It is refused."),
                )
        offset = end
        if chunk_type == b"IEND":
            break
    if offset != size:
        raise _trailing()


def _check_webp(fileobj: IO[bytes], size: int) -> None:
    (riff_size,) = struct.unpack("<I", _read_at(fileobj, 4, 4))
    expected = riff_size + 8 + (riff_size & 1)
    if size < riff_size + 8:
        raise _truncated()
    if size > expected:
        raise _trailing()


def _check_iso_boxes(fileobj: IO[bytes], size: int) -> None:
    """MP4/MOV: the top-level boxes must tile the file exactly."""
    offset = 0
    while offset < size:
        header = _read_at(fileobj, offset, 16)
        if len(header) < 8:
            raise _truncated()
        box_size = struct.unpack(">I", header[:4])[0]
        if box_size == 1:
            if len(header) < 16:
                raise _truncated()
            box_size = struct.unpack(">Q", header[8:16])[0]
        elif box_size == 0:
            return  # the last box runs to the end of the file
        if box_size < 8 or offset + box_size > size:
            raise _truncated()
        offset += box_size


def _check_pdf(fileobj: IO[bytes], size: int) -> None:
    if b"%%EOF" not in _read_at(fileobj, max(0, size - 4096), 4096):
        raise _truncated()


def _decode_image(fileobj: IO[bytes], file_type: FileType) -> tuple[int, int]:
    """Open with only the sniffed decoder, refuse bombs before decoding, verify, then decode
    the first frame fully (truncated or corrupt data fails here)."""
    bomb = UploadRefused(
        "bomb",
        _(
            "The image has too many pixels (more than %(megapixels)s megapixels). Such files "
            "can exhaust the server's memory (a decompression bomb) and are refused."
        )
        % {"megapixels": max_image_pixels() // 1_000_000},
    )
    corrupt = UploadRefused(
        "corrupt",
        _("The image is damaged or truncated and cannot be decoded as %(format)s.")
        % {"format": file_type.label},
    )
    formats = [file_type.pillow_format or ""]
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            fileobj.seek(0)
            with Image.open(fileobj, formats=formats) as image:
                width, height = image.size
                if width * height > max_image_pixels():
                    raise bomb
                image.verify()
            fileobj.seek(0)
            with Image.open(fileobj, formats=formats) as image:
                image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise bomb from None
        except UploadRefused:
            raise
        except Exception:
            # Pillow signals bad data with OSError, SyntaxError, ValueError, EOFError,
            # struct.error and others: all mean the same thing to the person uploading.
            raise corrupt from None
    return width, height


# ------------------------------------------------------------------------- the entry point


def _file_size(fileobj: IO[bytes]) -> int:
    size = getattr(fileobj, "size", None)
    if isinstance(size, int):
        return size
    position = fileobj.seek(0, io.SEEK_END)
    fileobj.seek(0)
    return position


def upload_validate(fileobj: IO[bytes], *, name: str) -> ValidatedUpload:
    """Check an uploaded file (seekable) against the rules above; raise UploadRefused with a
    specific message on the first failure. Reads the file; stores nothing."""
    if _is_hostile_name(name):
        raise UploadRefused(
            "hostile_name",
            _(
                "The file name %(name)s contains folder parts or hidden control characters "
                "(such as a right-to-left override that disguises the extension). Rename the "
                "file to a plain name such as evidence.png and upload it again."
            )
            % {"name": sanitize_filename(name)},
        )
    display_name = sanitize_filename(name)
    size = _file_size(fileobj)
    if size == 0:
        raise UploadRefused("empty", _("The file is empty (0 bytes)."))
    limit = max_upload_bytes()
    if size > limit:
        raise UploadRefused(
            "too_large",
            _("The file is %(size)s; the largest accepted upload is %(limit)s.")
            % {"size": filesizeformat(size), "limit": filesizeformat(limit)},
        )
    head = _read_at(fileobj, 0, SNIFF_BYTES)
    extension = extension_of(display_name)
    file_type = sniff(head)
    if file_type is None:
        refused = _refused_kind(head)
        if refused is not None:
            code, message = refused
            if extension:
                message = (
                    _("The file name ends in .%(ext)s, but the file is not one.")
                    % {"ext": extension}
                    + " "
                    + message
                )
            raise UploadRefused(code, message)
        raise UploadRefused(
            "unsupported_type",
            _("This file type is not accepted. Accepted types: %(types)s.")
            % {"types": accepted_labels()},
        )
    if not extension:
        raise UploadRefused(
            "no_extension",
            _("The file name has no extension. This file is %(label)s: name it .%(ext)s.")
            % {"label": file_type.label, "ext": file_type.extensions[0]},
        )
    if extension not in file_type.extensions:
        raise UploadRefused(
            "extension_mismatch",
            _(
                "The file name ends in .%(ext)s, but the file is %(label)s. Extension and "
                "content must agree: rename it to .%(expected)s if that is what it is."
            )
            % {"ext": extension, "label": file_type.label, "expected": file_type.extensions[0]},
        )
    width = height = None
    if file_type.is_image:
        _check_markup(fileobj, size)
        if file_type is PNG:
            _check_png(fileobj, size)
        elif file_type is WEBP:
            _check_webp(fileobj, size)
        width, height = _decode_image(fileobj, file_type)
    elif file_type in (MP4, MOV):
        _check_iso_boxes(fileobj, size)
    elif file_type is PDF:
        _check_pdf(fileobj, size)
    fileobj.seek(0)
    return ValidatedUpload(
        file_type=file_type, display_name=display_name, size=size, width=width, height=height
    )


def image_dimensions(head_or_file: IO[bytes], media_type: str) -> tuple[int | None, int | None]:
    """Width and height of an image from its header only (no decoding), or (None, None)."""
    file_type = next((t for t in ACCEPTED if t.media_type == media_type and t.is_image), None)
    if file_type is None:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            head_or_file.seek(0)
            with Image.open(head_or_file, formats=[file_type.pillow_format or ""]) as image:
                return image.size
        except Exception:
            return None, None
