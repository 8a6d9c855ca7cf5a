"""The one registry of media types we store, name or export: for each, the file extension
that names it (without the dot), other extensions that may name it, and a label for people.

Every file name we give to evidence comes from here: the download's file name, the packet's
evidence/<sha256>.<ext>, a captured media file's original name, the training-set export.
What a type *is* is never taken from here: the bytes decide (cases.evidence.uploads.sniff,
cases.evidence.capture.media.sniff_media_type)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaType:
    """One media type: its canonical extension, the other extensions people use for it,
    and its name for people (a format name, the same in every language)."""

    media_type: str
    extension: str
    label: str
    aliases: tuple[str, ...] = ()

    @property
    def extensions(self) -> tuple[str, ...]:
        """Every extension that may name this type, the canonical one first."""
        return (self.extension, *self.aliases)


MEDIA_TYPES: dict[str, MediaType] = {
    entry.media_type: entry
    for entry in (
        # Images
        MediaType("image/jpeg", "jpg", "JPEG", ("jpeg", "jpe", "jfif")),
        MediaType("image/png", "png", "PNG"),
        MediaType("image/gif", "gif", "GIF"),
        MediaType("image/webp", "webp", "WebP"),
        MediaType("image/avif", "avif", "AVIF"),
        MediaType("image/heic", "heic", "HEIC"),
        MediaType("image/bmp", "bmp", "BMP"),
        MediaType("image/tiff", "tif", "TIFF", ("tiff",)),
        # Videos
        MediaType("video/mp4", "mp4", "MP4", ("m4v",)),
        MediaType("video/quicktime", "mov", "QuickTime (MOV)", ("qt",)),
        MediaType("video/webm", "webm", "WebM"),
        MediaType("video/ogg", "ogv", "Ogg video"),
        # Documents and capture records
        MediaType("application/pdf", "pdf", "PDF"),
        MediaType("text/html", "html", "HTML"),
        MediaType("application/warc", "warc", "WARC"),
        MediaType("application/wacz", "wacz", "WACZ"),
        MediaType("application/json", "json", "JSON"),
        MediaType("text/plain", "txt", "Text"),
    )
}


def media_extension(media_type: str, default: str = "bin") -> str:
    """The extension (no dot) that names a file of `media_type`, or `default`."""
    entry = MEDIA_TYPES.get(media_type)
    return entry.extension if entry else default


def media_suffix(media_type: str, default: str = "") -> str:
    """The same with its dot (".jpg"), or `default` for a type we do not know."""
    entry = MEDIA_TYPES.get(media_type)
    return f".{entry.extension}" if entry else default
