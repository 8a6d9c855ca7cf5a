"""A case with many evidence items of every shape, for the dossier tests and bench/dossier.py:
Hangul and Latin text, very long URLs, captured items with full records, and items with
missing fields (uploads without a capture, captures without an IP or status, no PDQ)."""

from __future__ import annotations

import io
import random
from datetime import timedelta
from typing import Any

from django.utils import timezone
from PIL import Image

from cases.evidence.models import Capture, CaptureStatus, Evidence, EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from cases.intake.services.findings import finding_record
from cases.legal.models import Case
from cases.legal.services.legal_cases import case_create

KOREAN_CASE_TITLE = "유나 딥페이크 유포 사건"
KOREAN_NAME = "유나"
KOREAN_GROUP_NOTE = "스타라이트 소속"


def png_bytes(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size)
    image.putdata(
        [
            (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            for _ in range(size[0] * size[1])
        ]
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def long_url(n: int) -> str:
    path = "/".join(f"segment-{n}-{k}-딥페이크" for k in range(25))
    return f"https://very-long-host-name-{n}.example.com/{path}?q={'x' * 200}&n={n}"


def build_case(
    *,
    agency: Any,
    actor: Any,
    artists: list[Any],
    items: int = 60,
    text: str = "",
    title: str = KOREAN_CASE_TITLE,
    seed: int = 0,
) -> Case:
    """A case whose findings carry `items` evidence items in total (three per finding:
    screenshot, HTML, and a media file or an upload). `text` goes into every free-text
    field (the injection tests pass markup there)."""
    findings = []
    per_finding = 3
    count = 0
    now = timezone.now()
    for n in range((items + per_finding - 1) // per_finding):
        url = long_url(n) if n % 3 == 0 else f"https://www.youtube.com/watch?v=deepfake-{n}"
        if seed:
            url += f"&seed={seed}"
        finding, _created = finding_record(
            agency=agency,
            url=url,
            actor=actor,
            artists=artists,
            notes=f"{KOREAN_GROUP_NOTE} {text}",
        )
        findings.append(finding)
        captured = n % 4 != 3
        capture = None
        if captured:
            capture = Capture.objects.create(
                agency=agency,
                finding=finding,
                status=CaptureStatus.DONE,
                progress=100,
                requested_url=finding.canonical_url,
                final_url=finding.canonical_url + ("#final" if n % 2 else "") + text,
                http_status=None if n % 5 == 0 else 200,
                headers={
                    "content-type": "text/html; charset=utf-8",
                    "x-note": f"헤더 {n} {text}",
                    "server": f"nginx {text}",
                },
                resolved_ip="198.51.100.7",
                collector_ip=None if n % 5 == 0 else "203.0.113.5",
                tool_name="AgencyGuard-Capture" if n % 6 else "",
                tool_version="1.0 (Chromium 131)" if n % 6 else "",
                collector=actor,
                started_at=now - timedelta(hours=n),
                finished_at=now - timedelta(hours=n) + timedelta(seconds=20),
            )
        kinds = [EvidenceKind.SCREENSHOT, EvidenceKind.HTML, EvidenceKind.MEDIA]
        for position, kind in enumerate(kinds):
            if count >= items:
                break
            count += 1
            if kind == EvidenceKind.HTML:
                data = f"<html><body>페이지 {n} {seed} {text}</body></html>".encode()
                media_type = "text/html"
            else:
                data = png_bytes(seed * 100_000 + n * 10 + position)
                media_type = "image/png"
            upload = kind == EvidenceKind.MEDIA and n % 2 == 1
            evidence, _created = evidence_ingest(
                agency=agency,
                data=data,
                kind=EvidenceKind.UPLOAD if upload else kind,
                collected_by=actor,
                finding=finding,
                capture=None if upload or capture is None else capture,
                original_name=f"증거-{n}-{position} {text}"[:200],
                media_type=media_type,
            )
            if media_type == "image/png" and n % 3 != 2:
                Evidence.objects.filter(pk=evidence.pk).update(
                    pdq_hash=f"{n:02x}" * 32, pdq_quality=90
                )
    return case_create(
        agency=agency,
        actor=actor,
        title=f"{title} {text}".strip()[:200],
        artists=artists,
        findings=findings,
        notes=f"메모 {text}",
        jurisdiction=f"Seoul 서울 {text}"[:120],
        police_report_number=f"2025-서울-{text}"[:120],
        counsel_name=f"김변호사 {text}"[:200],
    )
