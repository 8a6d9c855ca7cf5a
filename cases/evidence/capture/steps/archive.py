"""The archive: a WARC of every exchange of the visit, with the screenshot and the
capture's details, then the same WARC packaged as a WACZ for replay tools (signed when a
key is configured)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlsplit

from cases.evidence.capture.browser import BrowserResult
from cases.evidence.capture.options import TOOL_NAME, tool_version
from cases.evidence.capture.output import Artefact, CaptureOutput
from cases.evidence.capture.steps.screenshot import Screenshot
from cases.evidence.capture.wacz import MEDIA_TYPE as WACZ_MEDIA_TYPE
from cases.evidence.capture.wacz import WaczError, WaczSigner, wacz_build
from cases.evidence.capture.warc import CaptureWarc
from cases.kernel.net.fetcher import FetchResult


def warc_write(
    out: CaptureOutput,
    exchanges: list[FetchResult],
    browser: BrowserResult | None,
    label: str,
    *,
    shot: Screenshot | None,
    warc_info: dict[str, Any],
) -> IO[bytes]:
    """The capture's WARC (every exchange, the raw screenshot, the rendered DOM and the
    capture's details), as a file ready to read."""
    now = datetime.now(UTC)
    info = {
        "software": f"{TOOL_NAME} {tool_version(browser.chromium_version if browser else '')}",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "isPartOf": label,
        "ip": out.collector_ip,
        "description": "Evidence capture of a suspect URL. Bodies are as received after "
        "removing chunked transfer framing (content coding kept).",
        **warc_info,
    }
    warc = CaptureWarc(filename=f"{label}.warc.gz", info=info)
    warc.add_exchanges(exchanges)
    if shot is not None and shot.raw is not None:
        warc.add_screenshot(shot.raw)
    if shot is not None and shot.dom is not None:
        warc.add_rendered_dom(*shot.dom)
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


def wacz_package(
    out: CaptureOutput,
    warc: IO[bytes],
    main: FetchResult,
    label: str,
    *,
    signer: WaczSigner | None,
) -> None:
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
    description = f"Evidence capture of {out.requested_url} ({out.status}) by {TOOL_NAME}"
    info: dict[str, Any] = {"signed": False, "signature": "not signed"}
    try:
        package = wacz_build(
            warc=warc,
            warc_name=f"{label}.warc.gz",
            main_url=main.final_url if has_page else "",
            title=f"{label}: {out.requested_url}"[:300],
            description=description[:500],
            signer=signer,
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
            "signature": "anonymous ECDSA (WACZ signing 0.1.0)" if package.signed else "not signed",
            "public_key": package.public_key,
        }
    )
    out.details["wacz"] = info
    out.artefacts.append(
        Artefact("wacz", package.file, f"{label}.wacz", WACZ_MEDIA_TYPE, main.final_url)
    )
