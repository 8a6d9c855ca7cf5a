"""The visit: what the fetch of the URL says about the capture, and what it observed.

The outcome, final URL, redirect chain, status, headers and addresses go on the capture;
the whole exchange (every hop's request and response headers) becomes the headers
artefact; and the answer is classified (cases.evidence.capture.observation): live, removed
(404/410/451 or the platform's own removed-content page) or unreachable.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from cases.evidence.capture.observation import (
    RemovalSignature,
    classify,
    removal_signature_match,
)
from cases.evidence.capture.output import CaptureOutput
from cases.evidence.capture.page import visible_text
from cases.kernel.net.fetcher import REDIRECT_STATUSES, FetchResult, Hop


def header(headers: list[tuple[str, str]], name: str) -> str:
    """The first value of header `name` (lower-case), or ""."""
    return next((value for key, value in headers if key.lower() == name), "")


def _headers_dict(headers: list[tuple[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        separator = "\n" if key == "set-cookie" else ", "
        merged[key] = f"{merged[key]}{separator}{value}" if key in merged else value
    return merged


def _hop_record(hop: Hop) -> dict[str, Any]:
    return {
        "url": hop.url,
        "ip": hop.ip,
        "port": hop.port,
        "status": hop.status,
        "reason": hop.reason,
        "http_version": hop.http_version,
        "request_headers": [list(pair) for pair in hop.request_headers],
        "headers": [list(pair) for pair in hop.headers],
        "location": hop.location,
    }


def visit_record(out: CaptureOutput, main: FetchResult) -> None:
    """The visit's facts on the capture, and its status when there is no answer to show."""
    out.outcome = main.outcome
    out.final_url = main.final_url
    out.redirect_chain = [
        {"url": hop.url, "status": hop.status, "location": hop.location, "ip": hop.ip}
        for hop in main.redirects
    ]
    if main.final is not None:
        out.http_status = main.final.status
        out.headers = _headers_dict(main.final.headers)
        out.resolved_ip = main.final.ip
        out.collector_ip = main.final.local_ip
    out.details["fetch"] = {
        "outcome": main.outcome,
        "message": main.message,
        "started_at": main.started_at.isoformat(),
        "finished_at": main.finished_at.isoformat(),
        "elapsed_s": round(main.elapsed, 3),
        "truncated": main.truncated,
        "body_bytes": len(main.raw_body),
    }
    if main.refused:
        out.status, out.error = "refused", main.refused_reason
    elif main.final is None or main.final.status in REDIRECT_STATUSES:
        # No answer to show: a network failure, or redirects without end.
        out.status, out.error = "failed", main.message
    elif not main.ok:
        out.error = main.message  # an answer arrived but was cut (size or time cap)


def exchange_record(main: FetchResult) -> dict[str, Any]:
    """The HTTP exchange of the visit, every hop, as the headers artefact records it."""
    hops = list(main.redirects)
    if main.final is not None and (not hops or hops[-1] is not main.final):
        hops.append(main.final)
    return {
        "requested_url": main.requested_url,
        "final_url": main.final_url,
        "outcome": main.outcome,
        "message": main.message,
        "started_at": main.started_at.isoformat(),
        "finished_at": main.finished_at.isoformat(),
        "hops": [_hop_record(hop) for hop in hops],
        "body": {
            "bytes_raw": len(main.raw_body),
            "bytes_decoded": len(main.body),
            "sha256_decoded": hashlib.sha256(main.body).hexdigest(),
            "content_decoded": main.content_decoded,
            "truncated": main.truncated,
        },
    }


def visit_observe(
    out: CaptureOutput,
    main: FetchResult,
    page_html: str,
    *,
    signatures: tuple[RemovalSignature, ...],
) -> None:
    """Set what the visit observed; a removal page counts only on its platform's hosts."""
    status = main.final.status if main.final else None
    removal_page = None
    if page_html and status is not None and 200 <= status < 300:
        host = urlsplit(main.final_url).hostname or ""
        removal_page, timed_out = removal_signature_match(
            signatures, host=host, text=visible_text(page_html)
        )
        if timed_out:
            out.details["removal_signatures_timed_out"] = timed_out
    out.observed_at = main.finished_at
    out.observation, out.observation_reason = classify(
        status=out.status,
        outcome=str(main.outcome),
        http_status=status,
        removal_page=removal_page,
    )
