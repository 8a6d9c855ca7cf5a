"""The media: the main images and videos of the capture, within count and size caps.

A URL that is itself an image or a video is stored as it is (fetched again under the
media cap when the page cap cut it). For an HTML page, the media it embeds
(cases.evidence.capture.media finds them) are taken from what Chromium already fetched
when that is complete, else fetched under the media policy; each is stored once, if it
really is an image or a video, until the capture's total media cap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from cases.evidence.capture.browser import BrowserResult
from cases.evidence.capture.media import media_candidates, media_file_name, sniff_media_type
from cases.evidence.capture.options import PipelineOptions, Progress, Step
from cases.evidence.capture.output import Artefact, CaptureOutput
from cases.kernel.net.fetcher import FetchResult
from cases.kernel.net.policy import Policy

Fetch = Callable[[str, Policy], FetchResult]


def media_policy(policy: Policy, options: PipelineOptions) -> Policy:
    """The visit's policy with the media size cap."""
    return replace(
        policy,
        max_body_bytes=options.media_max_bytes,
        max_decompressed_bytes=max(options.media_max_bytes, policy.max_decompressed_bytes),
    )


def media_direct(
    out: CaptureOutput,
    main: FetchResult,
    *,
    policy: Policy,
    options: PipelineOptions,
    fetch: Fetch,
) -> list[FetchResult]:
    """The visited URL as the media; returns the exchanges made for it."""
    result, fetched = main, []
    if main.truncated and options.media_max_bytes > policy.max_body_bytes:
        result = fetch(main.final_url, media_policy(policy, options))
        fetched.append(result)
    media_type = sniff_media_type(result.body)
    if result.ok and not result.truncated and media_type:
        name = media_file_name(result.final_url, media_type)
        out.artefacts.append(Artefact("media", result.body, name, media_type, result.final_url))
    else:
        out.details["direct_media_skipped"] = result.message or "not an image or video"
    return fetched


def media_collect(
    out: CaptureOutput,
    html: str,
    main: FetchResult,
    browser: BrowserResult | None,
    *,
    policy: Policy,
    options: PipelineOptions,
    fetch: Fetch,
    progress: Progress,
) -> list[FetchResult]:
    """The media the page embeds, logged in `out.details["media"]`; returns the exchanges
    made for them."""
    candidates = media_candidates(html, main.final_url, limit=options.media_max_items)
    seen_by_browser: dict[str, FetchResult] = {}
    for request in browser.requests if browser else []:
        if request.result is not None:
            seen_by_browser.setdefault(request.url, request.result)
    capped = media_policy(policy, options)
    total, log, fetched = 0, [], []
    stored: set[str] = set()
    for index, candidate in enumerate(candidates):
        progress(60 + int(25 * index / max(len(candidates), 1)), Step.MEDIA)
        entry: dict[str, Any] = {"url": candidate.url, "source": candidate.source}
        log.append(entry)
        result = seen_by_browser.get(candidate.url)
        # Reuse what Chromium already fetched, unless it was cut at the page cap (media
        # has a larger one) or failed for a reason other than the policy.
        if result is None or result.truncated or (not result.ok and not result.refused):
            result = fetch(candidate.url, capped)
            fetched.append(result)
        entry["outcome"] = str(result.outcome)
        if not result.ok or result.final is None or result.final.status != 200:
            entry["skipped"] = result.message or f"HTTP {result.status_code}"
            continue
        media_type = sniff_media_type(result.body)
        if not media_type:
            entry["skipped"] = "not an image or video"
            continue
        digest = hashlib.sha256(result.body).hexdigest()
        if digest in stored:
            entry["skipped"], entry["sha256"] = "same file as another item", digest
            continue
        if total + len(result.body) > options.media_total_bytes:
            entry["skipped"] = "over the capture's total media size cap"
            continue
        total += len(result.body)
        stored.add(digest)
        entry.update({"sha256": digest, "media_type": media_type, "bytes": len(result.body)})
        out.artefacts.append(
            Artefact(
                "media",
                result.body,
                media_file_name(candidate.url, media_type),
                media_type,
                candidate.url,
            )
        )
    out.details["media"] = log
    return fetched
