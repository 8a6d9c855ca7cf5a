"""One capture of one URL, as pure work: network in, artefacts out, no ORM.

Steps (each reports progress through a callback):
1. visit the URL with the safe fetcher (redirect chain, status, headers, addresses);
2. the HTML as served and a JSON record of the HTTP exchange;
3. a full-page screenshot in Chromium (every request through the same fetcher), with a
   date/time banner composed above the page's own pixels;
4. what the visit observed (cases.evidence.capture.observation): live, removed (404/410/451 or the
   platform's own removed-content page) or unreachable (anything on our side of the wire);
5. the main media the page embeds, within count and size caps;
6. a WARC of every exchange of the visit, with the screenshot and the capture's details;
7. the same WARC packaged as a WACZ (signed when a key is configured).

The service (cases.evidence.services.captures) turns the artefacts into Evidence in one
transaction, so that a crash anywhere in here leaves no evidence behind and a re-run
starts clean.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from importlib import metadata
from typing import IO, Any
from urllib.parse import urlsplit

from cases.evidence.capture.banner import stamp_screenshot
from cases.evidence.capture.browser import BrowserOptions, BrowserResult, browser_capture
from cases.evidence.capture.media import media_candidates, media_file_name, sniff_media_type
from cases.evidence.capture.observation import (
    Observation,
    RemovalSignature,
    classify,
    removal_signature_match,
)
from cases.evidence.capture.wacz import MEDIA_TYPE as WACZ_MEDIA_TYPE
from cases.evidence.capture.wacz import WaczError, WaczSigner, wacz_build
from cases.evidence.capture.warc import CaptureWarc, WarcScreenshot
from cases.kernel.net.connection import Connector, Resolver
from cases.kernel.net.fetcher import REDIRECT_STATUSES, FetchResult, Hop, fetch
from cases.kernel.net.outcome import FetchOutcome
from cases.kernel.net.policy import Policy

TOOL_NAME = "AgencyGuard capture"
HTML_TYPES = ("text/html", "application/xhtml+xml")

Progress = Callable[[int, str], None]


class Step:
    """Step codes stored on Capture.step; the UI translates them."""

    QUEUED = "queued"
    FETCHING = "fetching"
    SAVING = "saving"
    SCREENSHOT = "screenshot"
    MEDIA = "media"
    WARC = "warc"
    WACZ = "wacz"
    STORING = "storing"
    DONE = "done"


@dataclass(frozen=True)
class PipelineOptions:
    screenshot: bool = True
    collect_media: bool = True
    media_max_items: int = 10
    media_max_bytes: int = 50 * 1024 * 1024
    media_total_bytes: int = 200 * 1024 * 1024
    subresource_deadline_s: float = 20.0
    browser: BrowserOptions = field(default_factory=BrowserOptions)
    # The agency's active removal signatures (the service reads them from the database).
    removal_signatures: tuple[RemovalSignature, ...] = ()
    # The WARC packaged as a WACZ too, signed when a key is configured.
    wacz: bool = True
    wacz_signer: WaczSigner | None = None

    def as_settings(self, policy: Policy) -> dict[str, Any]:
        return {
            "policy": {
                "allowed_ports": sorted(policy.allowed_ports),
                "max_redirects": policy.max_redirects,
                "connect_timeout_s": policy.connect_timeout,
                "read_timeout_s": policy.read_timeout,
                "total_deadline_s": policy.total_deadline,
                "max_body_bytes": policy.max_body_bytes,
                "max_decompressed_bytes": policy.max_decompressed_bytes,
                "allow_loopback": policy.allow_loopback,
                "user_agent": policy.user_agent,
            },
            "screenshot": self.screenshot,
            "browser": self.browser.as_settings() if self.screenshot else None,
            "media": {
                "collect": self.collect_media,
                "max_items": self.media_max_items,
                "max_bytes": self.media_max_bytes,
                "total_bytes": self.media_total_bytes,
            },
            "removal_signatures": [
                {"name": sig.name, "pattern": sig.pattern, "regex": sig.is_regex}
                for sig in self.removal_signatures
            ],
            "wacz": {
                "build": self.wacz,
                "signing": "anonymous ECDSA (WACZ signing 0.1.0)"
                if self.wacz_signer is not None
                else "not signed",
            },
        }


@dataclass
class Artefact:
    """One file the capture produced, before it becomes Evidence."""

    kind: str  # an EvidenceKind value
    data: bytes | IO[bytes]
    name: str
    media_type: str
    url: str = ""  # where it came from (media), for the capture's manifest


@dataclass
class CaptureOutput:
    """Everything the service needs to record the capture (JSON-able but for artefacts)."""

    status: str  # "done", "failed" or "refused" (CaptureStatus values)
    outcome: str  # a FetchOutcome value
    requested_url: str
    final_url: str = ""
    error: str = ""
    redirect_chain: list[dict[str, Any]] = field(default_factory=list)
    http_status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    resolved_ip: str | None = None
    collector_ip: str | None = None
    tool_version: str = ""
    tool_settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    artefacts: list[Artefact] = field(default_factory=list)
    # What the visit says about the content (an Observation value) and why ("http_404",
    # "removed_page: <signature>", "dns_error", "http_503").
    observation: str = ""
    observation_reason: str = ""
    observed_at: datetime | None = None

    @property
    def gone(self) -> bool:
        """The platform said the content is removed (one observation: not yet a verdict)."""
        return self.observation == Observation.REMOVED

    @property
    def live(self) -> bool:
        """The content answered: a successful response that is not a removal page."""
        return self.observation == Observation.LIVE


def tool_version(chromium: str = "") -> str:
    try:
        own = metadata.version("agencyguard")
    except metadata.PackageNotFoundError:
        own = "unknown"
    parts = [own, f"warcio {metadata.version('warcio')}"]
    if chromium:
        parts.append(f"Chromium {chromium}")
    return "; ".join(parts)[:100]


# --- helpers -----------------------------------------------------------------------------


def _header(headers: list[tuple[str, str]], name: str) -> str:
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


_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)


def decode_html(body: bytes, content_type: str) -> str:
    """The page as text: the charset from Content-Type, else a <meta charset>, else UTF-8
    (undecodable bytes replaced: this text is only read, the bytes are what is stored)."""
    candidates = []
    match = re.search(r"charset=([^;\s]+)", content_type, re.IGNORECASE)
    if match:
        candidates.append(match.group(1).strip("\"'"))
    meta = _CHARSET.search(body[:4096])
    if meta:
        candidates.append(meta.group(1).decode("ascii", "replace"))
    for charset in [*candidates, "utf-8"]:
        try:
            return body.decode(charset, errors="replace")
        except LookupError:
            continue
    return body.decode("utf-8", errors="replace")


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "noscript", "template"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript", "template") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _TextParser()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        pass
    return re.sub(r"\s+", " ", " ".join(parser.parts)).strip()


def _is_html(content_type: str, body: bytes) -> bool:
    if content_type.split(";")[0].strip().lower() in HTML_TYPES:
        return True
    head = body[:512].lstrip().lower()
    return not content_type and head.startswith((b"<!doctype html", b"<html"))


def canonical_json_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=1, default=str).encode()


# --- the pipeline --------------------------------------------------------------------------


class CapturePipeline:
    def __init__(
        self,
        *,
        policy: Policy,
        options: PipelineOptions,
        progress: Progress | None = None,
        resolver: Resolver | None = None,
        connector: Connector | None = None,
        warc_info: dict[str, Any] | None = None,
    ) -> None:
        self.policy = policy
        self.options = options
        self.progress = progress or (lambda percent, step: None)
        self.resolver = resolver
        self.connector = connector
        self.warc_info = warc_info or {}
        self.timings: dict[str, float] = {}
        self._raw_screenshot: WarcScreenshot | None = None
        self._dom: tuple[str, bytes, datetime] | None = None

    def _fetch(self, url: str, policy: Policy | None = None) -> FetchResult:
        return fetch(url, policy or self.policy, resolver=self.resolver, connector=self.connector)

    def run(self, url: str, *, label: str) -> CaptureOutput:
        """Capture `url`. `label` names the capture in file names and the WARC ("capture-12")."""
        started = time.monotonic()
        out = CaptureOutput(
            status="done",
            outcome=FetchOutcome.OK,
            requested_url=url,
            tool_settings=self.options.as_settings(self.policy),
        )
        self.progress(5, Step.FETCHING)
        with self._timed("fetch"):
            main = self._fetch(url)
        self._record_visit(out, main)
        exchanges: list[FetchResult] = [main]
        browser: BrowserResult | None = None
        page_html = ""

        if out.status == "done":
            self.progress(20, Step.SAVING)
            content_type = _header(main.headers, "content-type")
            if _is_html(content_type, main.body):
                page_html = decode_html(main.body, content_type)
                out.artefacts.append(
                    Artefact(
                        "html",
                        main.body,
                        f"{label}.html",
                        content_type.split(";")[0] or "text/html",
                        main.final_url,
                    )
                )
            elif sniff_media_type(main.body) or content_type.startswith(("image/", "video/")):
                # A direct link to an image or video: the body is the media itself (fetched
                # again under the larger media cap when the page cap cut it).
                exchanges += self._direct_media(out, main)
            self._detect_gone(out, main, page_html)
            if self.options.screenshot:
                self.progress(30, Step.SCREENSHOT)
                with self._timed("browser"):
                    browser = self._screenshot(out, main, label)
                exchanges += [r.result for r in browser.requests if r.result is not None]
            if self.options.collect_media and page_html and not out.gone:
                with self._timed("media"):
                    exchanges += self._collect_media(out, page_html, main, browser)
        else:
            self._detect_gone(out, main, "")

        # The record of the exchange itself, whatever happened (a refusal or a DNS failure is
        # a fact about the visit too, though not about the content).
        out.artefacts.append(
            Artefact(
                "headers",
                canonical_json_bytes(self._visit_record(main)),
                f"{label}-headers.json",
                "application/json",
                main.final_url,
            ),
        )
        self.progress(85, Step.WARC)
        with self._timed("warc"):
            warc = self._warc(out, exchanges, browser, label)
        out.artefacts.append(
            Artefact("warc", warc, f"{label}.warc.gz", "application/warc", main.final_url)
        )
        if self.options.wacz:
            self.progress(90, Step.WACZ)
            with self._timed("wacz"):
                self._wacz(out, warc, main, label)
        out.tool_version = tool_version(browser.chromium_version if browser else "")
        self.timings["total"] = time.monotonic() - started
        out.details["timings_s"] = {key: round(value, 3) for key, value in self.timings.items()}
        return out

    # -- steps ---------------------------------------------------------------------------

    def _timed(self, name: str) -> _Timer:
        return _Timer(self.timings, name)

    def _record_visit(self, out: CaptureOutput, main: FetchResult) -> None:
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

    def _visit_record(self, main: FetchResult) -> dict[str, Any]:
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

    def _detect_gone(self, out: CaptureOutput, main: FetchResult, page_html: str) -> None:
        """Set what the visit observed; a removal page counts only on its platform's hosts."""
        status = main.final.status if main.final else None
        removal_page = None
        if page_html and status is not None and 200 <= status < 300:
            host = urlsplit(main.final_url).hostname or ""
            removal_page, timed_out = removal_signature_match(
                self.options.removal_signatures, host=host, text=visible_text(page_html)
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

    def _screenshot(self, out: CaptureOutput, main: FetchResult, label: str) -> BrowserResult:
        sub_policy = replace(
            self.policy,
            total_deadline=min(self.policy.total_deadline, self.options.subresource_deadline_s),
        )
        # Chromium asks for the final URL, answered from the visit already made: the
        # screenshot shows the very HTML that is stored, without a second request.
        result = browser_capture(
            main.final_url,
            policy=sub_policy,
            options=self.options.browser,
            prefetched={main.final_url: main},
            resolver=self.resolver,
            connector=self.connector,
        )
        info: dict[str, Any] = {
            "chromium": result.chromium_version,
            "error": result.error or result.integrity_error,
            "page_height": result.page_height,
            "cut_at_height": result.cut_at_height,
            "load_timed_out": result.load_timed_out,
            "requests": [r.as_dict() for r in result.requests[:300]],
            "request_count": len(result.requests),
            "refused": [{"url": r.url, "reason": r.reason} for r in result.refused[:100]],
            # What the page did while it was open, and what was on screen when it was shot.
            "navigations": result.navigations,
            "windows_opened": result.windows_opened,
            "document_rewritten": result.document_rewritten,
            "displayed_url": result.displayed_url,
            "frozen": result.frozen,
            "dom_sha256_before": result.dom_sha256_before,
            "dom_sha256_after": result.dom_sha256_after,
        }
        if result.integrity_error:
            # The page would not hold still on the document that was fetched: nothing the
            # browser saw is kept, and the capture says why.
            out.status, out.error = "failed", result.integrity_error
        if result.ok and result.taken_at is not None:
            tool = f"{TOOL_NAME} {tool_version(result.chromium_version)} · {label}"
            # The banner names the URL in the address bar at the moment of the screenshot
            # (a page may change it with history.pushState), and the one it was loaded from
            # when they differ.
            shown = result.displayed_url or main.final_url
            stamped, banner = stamp_screenshot(
                result.png,
                taken_at=result.taken_at,
                url=shown,
                tool=tool,
                loaded_url=main.final_url if shown != main.final_url else "",
            )
            info.update(
                {
                    "taken_at": result.taken_at.isoformat(),
                    "banner_height": banner,
                    "banner_url": shown,
                    "raw_png_sha256": hashlib.sha256(result.png).hexdigest(),
                    "dom_sha256": hashlib.sha256(result.dom_html).hexdigest(),
                    "note": "The banner above the page (banner_height px) was added by the tool; "
                    "the page's pixels below it are as Chromium rendered them.",
                }
            )
            out.artefacts.append(
                Artefact("screenshot", stamped, f"{label}-screenshot.png", "image/png", shown)
            )
            # The document the screenshot shows, as Chromium held it at that moment (the
            # HTML as served is the "html" artefact; scripts may have changed the page).
            out.artefacts.append(
                Artefact(
                    "dom",
                    result.dom_html,
                    f"{label}-rendered-dom.html",
                    "text/html",
                    shown,
                )
            )
            self._raw_screenshot = WarcScreenshot(shown, result.png, result.taken_at)
            self._dom = (shown, result.dom_html, result.taken_at)
        out.details["browser"] = info
        out.details["refused_urls"] = [r.url for r in result.refused[:100]]
        return result

    def _media_policy(self) -> Policy:
        return replace(
            self.policy,
            max_body_bytes=self.options.media_max_bytes,
            max_decompressed_bytes=max(
                self.options.media_max_bytes, self.policy.max_decompressed_bytes
            ),
        )

    def _direct_media(self, out: CaptureOutput, main: FetchResult) -> list[FetchResult]:
        result, fetched = main, []
        if main.truncated and self.options.media_max_bytes > self.policy.max_body_bytes:
            result = self._fetch(main.final_url, self._media_policy())
            fetched.append(result)
        media_type = sniff_media_type(result.body)
        if result.ok and not result.truncated and media_type:
            name = media_file_name(result.final_url, media_type)
            out.artefacts.append(Artefact("media", result.body, name, media_type, result.final_url))
        else:
            out.details["direct_media_skipped"] = result.message or "not an image or video"
        return fetched

    def _collect_media(
        self, out: CaptureOutput, html: str, main: FetchResult, browser: BrowserResult | None
    ) -> list[FetchResult]:
        candidates = media_candidates(html, main.final_url, limit=self.options.media_max_items)
        seen_by_browser: dict[str, FetchResult] = {}
        for request in browser.requests if browser else []:
            if request.result is not None:
                seen_by_browser.setdefault(request.url, request.result)
        policy = self._media_policy()
        total, log, fetched = 0, [], []
        stored: set[str] = set()
        for index, candidate in enumerate(candidates):
            self.progress(60 + int(25 * index / max(len(candidates), 1)), Step.MEDIA)
            entry: dict[str, Any] = {"url": candidate.url, "source": candidate.source}
            log.append(entry)
            result = seen_by_browser.get(candidate.url)
            # Reuse what Chromium already fetched, unless it was cut at the page cap (media
            # has a larger one) or failed for a reason other than the policy.
            if result is None or result.truncated or (not result.ok and not result.refused):
                result = self._fetch(candidate.url, policy)
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
            if total + len(result.body) > self.options.media_total_bytes:
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

    def _warc(
        self,
        out: CaptureOutput,
        exchanges: list[FetchResult],
        browser: BrowserResult | None,
        label: str,
    ) -> IO[bytes]:
        now = datetime.now(UTC)
        info = {
            "software": f"{TOOL_NAME} {tool_version(browser.chromium_version if browser else '')}",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "isPartOf": label,
            "ip": out.collector_ip,
            "description": "Evidence capture of a suspect URL. Bodies are as received after "
            "removing chunked transfer framing (content coding kept).",
            **self.warc_info,
        }
        warc = CaptureWarc(filename=f"{label}.warc.gz", info=info)
        warc.add_exchanges(exchanges)
        if self._raw_screenshot is not None:
            warc.add_screenshot(self._raw_screenshot)
        if self._dom is not None:
            warc.add_rendered_dom(*self._dom)
        warc.add_metadata(
            out.final_url or out.requested_url,
            {
                "requested_url": out.requested_url,
                "final_url": out.final_url,
                "status": out.status,
                "outcome": out.outcome,
                "http_status": out.http_status,
                "observation": out.observation,
                "observation_reason": out.observation_reason,
                "tool_settings": out.tool_settings,
                "details": out.details,
            },
            now,
        )
        return warc.finish()

    def _wacz(self, out: CaptureOutput, warc: IO[bytes], main: FetchResult, label: str) -> None:
        """The WARC as a WACZ for replay tools. Its failure is recorded, never fatal: the
        WARC it packages is stored either way."""
        # The page list names the captured page when the WARC holds its response: not for
        # a visit that failed, was refused, or ended on a redirect whose target was refused.
        has_page = (
            out.status == "done"
            and main.final is not None
            and main.final.url == main.final_url
            and bool(urlsplit(main.final_url).path)
        )
        info: dict[str, Any] = {"signed": False, "signature": "not signed"}
        try:
            package = wacz_build(
                warc=warc,
                warc_name=f"{label}.warc.gz",
                main_url=main.final_url if has_page else "",
                title=f"{label}: {out.requested_url}"[:300],
                description=f"Evidence capture of {out.requested_url} ({out.status}) by "
                f"{TOOL_NAME}"[:500],
                signer=self.options.wacz_signer,
            )
        except WaczError as exc:
            info["error"] = str(exc)[:1000]
            out.details["wacz"] = info
            return
        info.update(
            {
                "datapackage_sha256": package.datapackage_sha256,
                "pages": package.pages,
                "signed": package.signed,
                "signature": "anonymous ECDSA (WACZ signing 0.1.0)"
                if package.signed
                else "not signed",
                "public_key": package.public_key,
            }
        )
        out.details["wacz"] = info
        out.artefacts.append(
            Artefact("wacz", package.file, f"{label}.wacz", WACZ_MEDIA_TYPE, main.final_url)
        )


class _Timer:
    def __init__(self, sink: dict[str, float], name: str) -> None:
        self.sink, self.name = sink, name

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        self.sink[self.name] = self.sink.get(self.name, 0.0) + time.monotonic() - self.started


def artefact_bytes(artefact: Artefact) -> bytes:
    """The artefact's bytes (tests and the bench hash them)."""
    if isinstance(artefact.data, bytes):
        return artefact.data
    artefact.data.seek(0)
    data = artefact.data.read()
    artefact.data.seek(0)
    return data


__all__ = [
    "Artefact",
    "CaptureOutput",
    "CapturePipeline",
    "PipelineOptions",
    "Step",
    "artefact_bytes",
]
