"""The WARC file of one capture (ISO 28500, written with warcio, gzip per record).

It holds, in order: a `warcinfo` record (tool, version, collector, the collecting machine's
address, the network policy), then a `request` and a `response` record for every HTTP
exchange of the visit (each redirect hop, the final page, every subresource Chromium
asked for and every media file), a `resource` record with the screenshot, and a
`metadata` record with the capture's details as JSON.

What "as on the wire" means here: status line and headers exactly as received, and the
body after the fetcher removed HTTP/1.1 chunked framing but before it removed any content
coding (so a gzip body stays gzip, matching its Content-Encoding header). Because the
framing is gone, a `Transfer-Encoding` header is renamed `X-Archive-Orig-Transfer-Encoding`
(the convention web archives use) so that readers do not try to de-chunk the body again.
A body cut at a size or time cap carries `WARC-Truncated`.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from cases.kernel.net.fetcher import FetchResult, Hop
from cases.kernel.net.outcome import FetchOutcome

WARC_VERSION = "1.1"
# Spool small WARCs in memory; bigger ones (video) go to a temporary file.
SPOOL_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class WarcScreenshot:
    url: str  # the page it shows
    png: bytes
    taken_at: datetime


def _warc_date(moment: datetime) -> str:
    return datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def _hops(result: FetchResult) -> list[Hop]:
    hops = list(result.redirects)
    if result.final is not None and (not hops or hops[-1] is not result.final):
        hops.append(result.final)
    return hops


def _body_read(result: FetchResult) -> bool:
    """Whether the final hop's body was read: the fetcher never reads a redirect's body,
    and a fetch stopped by too many redirects ends on one."""
    return result.final is not None and (
        not result.redirects or result.redirects[-1] is not result.final
    )


def _truncation(result: FetchResult) -> str:
    if not result.truncated:
        return ""
    if result.outcome == FetchOutcome.BODY_TOO_LARGE:
        return "length"
    if result.outcome in (FetchOutcome.DEADLINE_EXCEEDED, FetchOutcome.READ_TIMEOUT):
        return "time"
    return "disconnect"


def _response_headers(hop: Hop) -> list[tuple[str, str]]:
    headers = []
    for name, value in hop.headers:
        if name.lower() == "transfer-encoding":
            headers.append(("X-Archive-Orig-Transfer-Encoding", value))
        else:
            headers.append((name, value))
    return headers


def _request_target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class CaptureWarc:
    """Builds the WARC record by record; `finish()` returns the file, positioned at 0."""

    def __init__(self, *, filename: str, info: dict[str, Any]) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.writer = WARCWriter(self.file, gzip=True, warc_version=WARC_VERSION)
        self.filename = filename
        self.archived: set[int] = set()  # ids of FetchResults already written
        fields = {key: value for key, value in info.items() if value not in (None, "")}
        self.writer.write_record(self.writer.create_warcinfo_record(filename, fields))

    def add_exchange(self, result: FetchResult) -> None:
        """Request/response pairs for every hop of one fetch (nothing for a fetch that was
        refused before any request was sent). Adding the same result twice is a no-op."""
        if id(result) in self.archived:
            return
        self.archived.add(id(result))
        hops = _hops(result)
        body_read = _body_read(result)
        date = _warc_date(result.started_at)
        for index, hop in enumerate(hops):
            is_last = index == len(hops) - 1
            request_line = f"GET {_request_target(hop.url)} {hop.http_version}"
            request = self.writer.create_warc_record(
                hop.url,
                "request",
                http_headers=StatusAndHeaders(
                    request_line, list(hop.request_headers), is_http_request=True
                ),
                warc_headers_dict={"WARC-Date": date},
            )
            body = result.raw_body if is_last and body_read else b""
            warc_headers = {"WARC-Date": date, "WARC-IP-Address": hop.ip}
            truncated = _truncation(result) if is_last else ""
            if not is_last or not body_read:
                # A redirect's body is never read: say so unless it announced none.
                declared = next((v for n, v in hop.headers if n.lower() == "content-length"), None)
                if declared is None or declared.strip() != "0":
                    truncated = truncated or "unspecified"
            if truncated:
                warc_headers["WARC-Truncated"] = truncated
            response = self.writer.create_warc_record(
                hop.url,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=StatusAndHeaders(
                    f"{hop.status} {hop.reason}".strip(),
                    _response_headers(hop),
                    protocol=hop.http_version,
                ),
                warc_headers_dict=warc_headers,
            )
            request.rec_headers.add_header(
                "WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID")
            )
            self.writer.write_record(response)
            self.writer.write_record(request)

    def add_exchanges(self, results: Iterable[FetchResult]) -> None:
        for result in results:
            self.add_exchange(result)

    def add_screenshot(self, shot: WarcScreenshot) -> None:
        # The `urn:screenshot:` target is what pywb and Browsertrix use for page screenshots.
        record = self.writer.create_warc_record(
            f"urn:screenshot:{shot.url}",
            "resource",
            payload=io.BytesIO(shot.png),
            length=len(shot.png),
            warc_content_type="image/png",
            warc_headers_dict={"WARC-Date": _warc_date(shot.taken_at)},
        )
        self.writer.write_record(record)

    def add_rendered_dom(self, url: str, html: bytes, moment: datetime) -> None:
        """The DOM as rendered at the screenshot's moment, next to the responses as served
        (a `resource` record, like the screenshot, so replay tools never take it for
        the page's HTTP response)."""
        record = self.writer.create_warc_record(
            f"urn:rendered-dom:{url}",
            "resource",
            payload=io.BytesIO(html),
            length=len(html),
            warc_content_type="text/html; charset=utf-8",
            warc_headers_dict={"WARC-Date": _warc_date(moment)},
        )
        self.writer.write_record(record)

    def add_metadata(self, url: str, data: dict[str, Any], moment: datetime) -> None:
        payload = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
        record = self.writer.create_warc_record(
            url,
            "metadata",
            payload=io.BytesIO(payload),
            length=len(payload),
            warc_content_type="application/json",
            warc_headers_dict={"WARC-Date": _warc_date(moment)},
        )
        self.writer.write_record(record)

    def finish(self) -> IO[bytes]:
        self.file.flush()
        self.file.seek(0)
        return self.file
