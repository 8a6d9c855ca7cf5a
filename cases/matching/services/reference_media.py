"""Reference media: the agency's official photos and videos per artist. Registered files are
stored as evidence (kind "reference") and hashed like any other, so a re-upload that matches
one names the artist and the source work (see cases.matching.services.matching and
cases.matching.selectors)."""

from __future__ import annotations

import io
from datetime import date
from typing import IO

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from cases.agency.models import Artist
from cases.evidence.models import EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from cases.evidence.uploads import UploadRefused, ValidatedUpload, upload_validate
from cases.kernel.actor import Actor, actor_user
from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency
from cases.kernel.outbox import outbox_enqueue
from cases.matching.models import ReferenceMedia


class ReferenceMediaError(ValueError):
    """Reference media that cannot be registered; the message is for the user."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _reference_upload(
    data: bytes | IO[bytes], original_name: str
) -> tuple[IO[bytes], ValidatedUpload]:
    fileobj: IO[bytes] = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        validated = upload_validate(fileobj, name=original_name)
    except UploadRefused as refused:
        raise ReferenceMediaError(refused.message, refused.code) from refused
    media_type = validated.file_type.media_type
    if not (media_type.startswith("image/") or media_type.startswith("video/")):
        raise ReferenceMediaError(
            _("Reference media must be a photo or a video (this file is %(label)s).")
            % {"label": validated.file_type.label},
            "not_media",
        )
    return fileobj, validated


def reference_media_add(
    *,
    agency: Agency,
    artist: Artist,
    title: str,
    data: bytes | IO[bytes],
    original_name: str,
    actor: Actor,
    source_url: str = "",
    published_on: date | None = None,
) -> ReferenceMedia:
    """Register an official photo or video of an artist: the file is validated like any
    upload, stored as Evidence of kind "reference" (content-addressed; the same file again
    is the same Evidence), then hashed and matched after commit. Raises ReferenceMediaError
    with a message for the user."""
    if artist.agency_id != agency.pk:
        raise ReferenceMediaError(_("This artist is not on your agency's roster."), "artist")
    title = title.strip()
    if not title:
        raise ReferenceMediaError(
            _("Name the official work (for example: Official MV 'Starlight' 2024)."), "title"
        )
    source_url = source_url.strip()
    if source_url:
        try:
            URLValidator(schemes=["http", "https"])(source_url)
        except ValidationError as exc:
            raise ReferenceMediaError(
                _("The source URL must be a full http:// or https:// address."), "source_url"
            ) from exc
    fileobj, validated = _reference_upload(data, original_name)
    with transaction.atomic():
        evidence, _created = evidence_ingest(
            agency=agency,
            data=fileobj,
            kind=EvidenceKind.REFERENCE,
            collected_by=actor,
            original_name=validated.display_name,
            media_type=validated.file_type.media_type,
            width=validated.width,
            height=validated.height,
        )
        try:
            with transaction.atomic():
                reference = ReferenceMedia.objects.create(
                    agency=agency,
                    artist=artist,
                    evidence=evidence,
                    title=title[:300],
                    source_url=source_url,
                    published_on=published_on,
                    created_by=actor_user(actor),
                )
        except IntegrityError as exc:
            raise ReferenceMediaError(
                _("This file is already reference media of %(artist)s.") % {"artist": artist},
                "duplicate",
            ) from exc
        audit_record(
            agency=agency,
            actor=actor,
            action="reference_media.added",
            obj=reference,
            data={
                "artist": artist.pk,
                "title": reference.title,
                "evidence": evidence.pk,
                "sha256": evidence.sha256,
                "source_url": source_url,
            },
        )
        # Hash and match after commit, also when the file was already stored (its
        # existing matches now name this artist).
        _enqueue_pdq(evidence.pk)
    return reference


def _enqueue_pdq(evidence_id: int) -> None:
    outbox_enqueue("cases.matching.tasks.evidence_pdq_task", evidence_id=evidence_id)
