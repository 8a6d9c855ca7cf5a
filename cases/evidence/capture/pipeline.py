"""One capture of one URL, as pure work: network in, artefacts out, no ORM.

Steps (each reports progress through a callback; cases.evidence.capture.steps):
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

import time
from typing import Any

from cases.evidence.capture.browser import BrowserResult
from cases.evidence.capture.media import sniff_media_type
from cases.evidence.capture.options import (
    TOOL_NAME,
    PipelineOptions,
    Progress,
    Step,
    tool_version,
)
from cases.evidence.capture.output import Artefact, CaptureOutput, canonical_json_bytes
from cases.evidence.capture.page import decode_html, is_html
from cases.evidence.capture.steps.archive import wacz_package, warc_write
from cases.evidence.capture.steps.media import media_collect, media_direct
from cases.evidence.capture.steps.screenshot import Screenshot, screenshot_take
from cases.evidence.capture.steps.visit import (
    exchange_record,
    header,
    visit_observe,
    visit_record,
)
from cases.kernel.net.connection import Connector, Resolver
from cases.kernel.net.fetcher import FetchResult, fetch
from cases.kernel.net.outcome import FetchOutcome
from cases.kernel.net.policy import Policy


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
        visit_record(out, main)
        exchanges: list[FetchResult] = [main]
        shot: Screenshot | None = None
        browser: BrowserResult | None = None
        page_html = ""

        if out.status == "done":
            self.progress(20, Step.SAVING)
            content_type = header(main.headers, "content-type")
            if is_html(content_type, main.body):
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
                exchanges += media_direct(
                    out, main, policy=self.policy, options=self.options, fetch=self._fetch
                )
            visit_observe(out, main, page_html, signatures=self.options.removal_signatures)
            if self.options.screenshot:
                self.progress(30, Step.SCREENSHOT)
                with self._timed("browser"):
                    shot = screenshot_take(
                        out,
                        main,
                        label,
                        policy=self.policy,
                        options=self.options,
                        resolver=self.resolver,
                        connector=self.connector,
                    )
                browser = shot.browser
                exchanges += [r.result for r in browser.requests if r.result is not None]
            if self.options.collect_media and page_html and not out.gone:
                with self._timed("media"):
                    exchanges += media_collect(
                        out,
                        page_html,
                        main,
                        browser,
                        policy=self.policy,
                        options=self.options,
                        fetch=self._fetch,
                        progress=self.progress,
                    )
        else:
            visit_observe(out, main, "", signatures=self.options.removal_signatures)

        # The record of the exchange itself, whatever happened (a refusal or a DNS failure is
        # a fact about the visit too, though not about the content).
        out.artefacts.append(
            Artefact(
                "headers",
                canonical_json_bytes(exchange_record(main)),
                f"{label}-headers.json",
                "application/json",
                main.final_url,
            ),
        )
        self.progress(85, Step.WARC)
        with self._timed("warc"):
            warc = warc_write(out, exchanges, browser, label, shot=shot, warc_info=self.warc_info)
        out.artefacts.append(
            Artefact("warc", warc, f"{label}.warc.gz", "application/warc", main.final_url)
        )
        if self.options.wacz:
            self.progress(90, Step.WACZ)
            with self._timed("wacz"):
                wacz_package(out, warc, main, label, signer=self.options.wacz_signer)
        out.tool_version = tool_version(browser.chromium_version if browser else "")
        self.timings["total"] = time.monotonic() - started
        out.details["timings_s"] = {key: round(value, 3) for key, value in self.timings.items()}
        return out

    def _timed(self, name: str) -> _Timer:
        return _Timer(self.timings, name)


class _Timer:
    def __init__(self, sink: dict[str, float], name: str) -> None:
        self.sink, self.name = sink, name

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        self.sink[self.name] = self.sink.get(self.name, 0.0) + time.monotonic() - self.started


# The pipeline's interface: options in, output out (defined in options.py and output.py).
__all__ = [
    "TOOL_NAME",
    "CaptureOutput",
    "CapturePipeline",
    "PipelineOptions",
    "Step",
]
