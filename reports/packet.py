"""The evidence packet: one ZIP that counsel, police or a court can verify without us.

Layout:
    dossier.pdf                 the dossier (blurred previews only)
    evidence/<sha256>.<ext>     every original, byte for byte, named by its SHA-256
    manifest.json               every file: metadata, role (evidence, or the record of an
                                unsuccessful capture attempt), custody, detection; every
                                capture attempt of every finding with its outcome
    manifest.json.tsr           RFC 3161 token over manifest.json (when a TSA is configured)
    README.txt                  how to verify, for people
    signing-key.pub             the deployment's Ed25519 public key (when packets are signed)
    SHA256SUMS                  `sha256sum -c` lines for every file above
    SHA256SUMS.sig              Ed25519 signature over SHA256SUMS (when signed)

Originals are re-hashed while they are copied in: a stored blob that no longer matches its
hash stops the packet (PacketIntegrityError) instead of shipping altered evidence."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings

from cases.evidence.services.evidence import evidence_open
from cases.kernel.audit.timestamp import TimestampError, timestamp_manifest
from cases.kernel.media import media_extension
from reports.attempts import CaptureAttempt
from reports.context import DossierContext
from reports.items import ORIGIN_CAPTURE, EvidenceItem
from reports.packet_readme import readme_text
from reports.times import utc_and_kst

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# /2: items carry their role and capture status; capture_attempts lists every attempt
# with its observation, navigation record and WACZ.
MANIFEST_SCHEMA = "agencyguard.evidence-packet/2"
CHUNK = 1024 * 1024
# Already-compressed media go in stored; text compresses well.
STORED_PREFIXES = ("image/", "video/", "audio/", "application/pdf", "application/zip")


class PacketIntegrityError(Exception):
    """A stored original does not hash to its recorded SHA-256: the packet is not built."""


@dataclass
class PacketResult:
    sha256sums: bytes
    manifest_sha256: str
    timestamped: bool
    timestamp_note: str
    signed: bool
    files: list[str] = field(default_factory=list)


def evidence_path(item: EvidenceItem) -> str:
    return f"evidence/{item.evidence.sha256}.{media_extension(item.evidence.media_type)}"


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def _attempt_json(attempt: CaptureAttempt) -> dict[str, Any]:
    capture = attempt.capture
    return {
        "id": capture.pk,
        "finding_id": capture.finding_id,
        "is_recheck": capture.is_recheck,
        "status": capture.status,
        "succeeded": attempt.succeeded,
        "outcome": capture.outcome or None,
        "outcome_label": attempt.outcome_label or None,
        "error": capture.error or None,
        "requested_url": capture.requested_url,
        "final_url": capture.final_url or None,
        "redirect_chain": capture.redirect_chain,
        "http_status": capture.http_status,
        "headers": capture.headers,
        "resolved_ip": capture.resolved_ip,
        "collector_ip": capture.collector_ip,
        "collector": attempt.collector or None,
        "tool_name": capture.tool_name,
        "tool_version": capture.tool_version,
        "tool_settings": capture.tool_settings,
        "started_at_utc": _iso(capture.started_at),
        "finished_at_utc": _iso(capture.finished_at),
        # What the visit says about the content: only "removed" is evidence of a removal;
        # "unreachable" is about the network (cases.evidence.capture.observation).
        "observation": capture.observation or None,
        "observation_reason": capture.observation_reason or None,
        "observed_at_utc": _iso(capture.observed_at),
        # One of the two removal observations confirming a Removed finding's status.
        "confirms_removal": attempt.confirms_removal,
        # The browser's record (None when no screenshot was attempted) and the WACZ.
        "navigation": attempt.navigation.as_json() if attempt.navigation else None,
        "wacz": attempt.wacz.as_json() if attempt.wacz else None,
        # Files a successful attempt captured; files an unsuccessful one left as its record.
        "evidence": [f.evidence.sha256 for f in attempt.files if f.number is not None],
        "records": [f.evidence.sha256 for f in attempt.files if f.record_number is not None],
    }


def _item_json(item: EvidenceItem) -> dict[str, Any]:
    evidence = item.evidence
    custody = evidence.custody_sorted  # type: ignore[attr-defined]  # the full log, not the page
    verdict = item.verdict
    captured = not item.is_record and item.origin == ORIGIN_CAPTURE
    return {
        "number": item.number,
        "label": item.label,  # "3" for evidence item 3, "R2" for the second attempt record
        "role": item.role,
        "origin": item.origin,
        "evidence_id": evidence.pk,
        "sha256": evidence.sha256,
        "path": evidence_path(item),
        "size": evidence.size,
        "media_type": evidence.media_type,
        "kind": evidence.kind,
        "original_name": evidence.original_name,
        "pdq_hash": evidence.pdq_hash or None,
        "pdq_quality": evidence.pdq_quality,
        "width": evidence.width,
        "height": evidence.height,
        "may_be_explicit": evidence.explicit,
        "collected_at_utc": _iso(evidence.collected_at),
        "collected_at_kst": utc_and_kst(evidence.collected_at)[1],
        "collector": item.collector or None,
        "uploaded_by": item.uploaded_by or None,
        "finding_id": item.finding_id,
        "url": item.url or None,
        "missing": [str(label) for label in item.missing],
        # The capture this file is described from (see capture_attempts for its record):
        # the first successful one for evidence, the unsuccessful attempt for a record.
        "capture_id": item.capture.pk if item.capture else None,
        "capture_status": item.capture_status,
        "captured_at_utc": _iso(item.capture.started_at or item.capture.created_at)
        if captured and item.capture
        else None,
        "also_captured_by": item.also_captured_by,
        "custody": [
            {
                "action": event.action,
                "actor": event.actor_label,
                "reason": event.reason,
                "at_utc": _iso(event.created_at),
            }
            for event in custody
        ],
        "detection": item.detection.as_json() if item.detection else None,
        "human_review": {
            "verdict": verdict.verdict,
            "reviewer": verdict.reviewer_label,
            "note": verdict.note,
            "at_utc": _iso(verdict.created_at),
        }
        if verdict
        else None,
    }


def manifest_build(
    context: DossierContext, *, identifier: str, generated_by: str, pdf_sha256: str, tsa: str
) -> bytes:
    case = context.case
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "dossier_identifier": identifier,
        "agency": context.agency_name,
        "case": {
            "reference": case.reference,
            "title": case.title,
            "status": case.status,
            "jurisdiction": case.jurisdiction,
            "police_report_number": case.police_report_number,
            "court_docket": case.court_docket,
        },
        "generated_by": generated_by,
        "generated_at_utc": _iso(context.generated_at),
        "generated_at_kst": utc_and_kst(context.generated_at)[1],
        "dossier_pdf": {"path": "dossier.pdf", "sha256": pdf_sha256},
        "timestamp": tsa,
        "evidence_count": len(context.items),
        "attempt_record_count": len(context.records),
        "items": [_item_json(item) for item in context.files],
        "capture_attempts": [
            _attempt_json(attempt)
            for section in context.capture_sections
            for attempt in section.attempts
        ],
        "completeness": [
            {
                "finding_id": row.finding_id,
                "url": row.url,
                "complete": row.complete,
                "url_present": row.has_url,
                "html": row.has_html,
                "dated_screenshot": row.has_screenshot,
                "hash_at_collection": row.has_hash,
                "based_on_captures": row.based_on,
                "reason": row.reason or None,
            }
            for row in context.completeness
        ],
    }
    return json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False).encode("utf-8")


def _compression(media_type: str) -> int:
    return zipfile.ZIP_STORED if media_type.startswith(STORED_PREFIXES) else zipfile.ZIP_DEFLATED


class _Writer:
    """Adds files to the ZIP and remembers each one's SHA-256 for SHA256SUMS."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.sums: list[tuple[str, str]] = []

    def add_bytes(self, path: str, data: bytes, media_type: str = "text/plain") -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.archive.writestr(path, data, compress_type=_compression(media_type))
        self.sums.append((digest, path))
        return digest

    def add_stream(self, path: str, source: IO[bytes], media_type: str) -> str:
        digest = hashlib.sha256()
        info = zipfile.ZipInfo(path)
        info.compress_type = _compression(media_type)
        with self.archive.open(info, "w", force_zip64=True) as out:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        hexdigest = digest.hexdigest()
        self.sums.append((hexdigest, path))
        return hexdigest


@dataclass
class PacketTrust:
    """What a packet will carry, known before its dossier PDF is rendered: the PDF is
    written first and cannot hold a token asked for afterwards, so it states only this."""

    signing_key_sha256: str  # SHA-256 of signing-key.pub; "" when packets are not signed
    tsa_url: str  # "" when no Time-Stamp Authority is configured


def packet_trust() -> PacketTrust:
    key = _signing_key()
    return PacketTrust(
        signing_key_sha256=hashlib.sha256(_public_pem(key)).hexdigest() if key else "",
        tsa_url=str(getattr(settings, "TSA_URL", "") or ""),
    )


def _signing_key() -> Ed25519PrivateKey | None:
    path = getattr(settings, "PACKET_SIGNING_KEY", "")
    if not path:
        return None
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("PACKET_SIGNING_KEY must be an Ed25519 private key (PEM, no password)")
    return key


def _public_pem(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def packet_write(
    out: IO[bytes],
    *,
    context: DossierContext,
    pdf: bytes,
    identifier: str,
    generated_by: str,
    progress: Any = None,
) -> PacketResult:
    """Write the packet ZIP to `out` (a binary file opened for writing)."""
    pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    tsa_configured = bool(getattr(settings, "TSA_URL", ""))
    tsa_text = (
        f"requested from {settings.TSA_URL}; token in manifest.json.tsr when granted"
        if tsa_configured
        else "not timestamped (no Time-Stamp Authority configured)"
    )
    manifest = manifest_build(
        context,
        identifier=identifier,
        generated_by=generated_by,
        pdf_sha256=pdf_sha256,
        tsa=tsa_text,
    )
    key = _signing_key()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        writer = _Writer(archive)
        writer.add_bytes("dossier.pdf", pdf, "application/pdf")
        seen: set[str] = set()
        total = max(1, len(context.files))
        for index, item in enumerate(context.files, start=1):
            path = evidence_path(item)
            if path in seen:
                continue
            seen.add(path)
            with evidence_open(item.evidence) as source:
                digest = writer.add_stream(path, source, item.evidence.media_type)
            if digest != item.evidence.sha256:
                raise PacketIntegrityError(
                    f"evidence #{item.evidence.pk}: stored file hashes to {digest}, "
                    f"recorded {item.evidence.sha256}"
                )
            if progress is not None:
                progress(index / total)
        manifest_sha = writer.add_bytes("manifest.json", manifest, "application/json")
        timestamped, note = False, "No Time-Stamp Authority is configured."
        try:
            result = timestamp_manifest(bytes.fromhex(manifest_sha))
        except TimestampError as exc:
            note = f"The Time-Stamp Authority request failed: {exc}"
            result = None
        if result is not None:
            writer.add_bytes("manifest.json.tsr", result.token, "application/timestamp-reply")
            timestamped = True
            note = f"Time-Stamp Authority: {result.tsa_url}"
        readme = readme_text(
            context=context,
            identifier=identifier,
            timestamp_note=note,
            timestamped=timestamped,
            signed=key is not None,
        )
        writer.add_bytes("README.txt", readme.encode("utf-8"))
        if key is not None:
            writer.add_bytes("signing-key.pub", _public_pem(key))
        sums = "".join(f"{digest}  {path}\n" for digest, path in writer.sums).encode("utf-8")
        archive.writestr("SHA256SUMS", sums)
        if key is not None:
            archive.writestr("SHA256SUMS.sig", key.sign(sums))
        files = [path for _, path in writer.sums] + ["SHA256SUMS"]
        if key is not None:
            files.append("SHA256SUMS.sig")
    return PacketResult(
        sha256sums=sums,
        manifest_sha256=manifest_sha,
        timestamped=timestamped,
        timestamp_note=note,
        signed=key is not None,
        files=files,
    )
