"""Reading a response body under the policy's caps: raw size, decompressed size and time.

The body is read one receive at a time, so the caps and the deadline are checked often;
gzip and deflate are removed with a bounded output per step, so a decompression bomb never
expands in memory. A body over a cap is kept up to the cap and marked truncated; the
failure that stopped the read travels with it instead of being raised.
"""

from __future__ import annotations

import http.client
import socket
import zlib
from dataclasses import dataclass

from cases.kernel.net.outcome import Deadline, Failure, FetchOutcome
from cases.kernel.net.policy import Policy

CHUNK = 64 * 1024


class _BodyTooLarge(Exception):
    pass


class _Decoder:
    """Removes gzip/deflate content coding, refusing to produce more than `limit` bytes."""

    def __init__(self, coding: str, limit: int) -> None:
        self.coding = coding
        self.limit = limit
        self.produced = 0
        self.chunks: list[bytes] = []
        self.started = False
        self.finished = False
        self._obj = self._new()

    def _new(self) -> zlib._Decompress:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self.coding == "gzip" else zlib.MAX_WBITS)

    def _emit(self, data: bytes) -> None:
        self.produced += len(data)
        if self.produced > self.limit:
            self.chunks.append(data[: len(data) - (self.produced - self.limit)])
            raise _BodyTooLarge
        self.chunks.append(data)

    def feed(self, data: bytes) -> None:
        if not self.started and self.coding == "deflate" and data:
            self.started = True
            try:
                zlib.decompressobj().decompress(data[:2])
            except zlib.error:
                # Many servers send raw deflate without the zlib header.
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        while data and not self.finished:
            # max_length bounds the output of each step: a bomb never expands in memory.
            # (max_length=0 would mean "unlimited", hence the + 1.)
            self._emit(self._obj.decompress(data, self.limit - self.produced + 1))
            data = self._obj.unconsumed_tail
            if self._obj.eof:
                rest = self._obj.unused_data
                if self.coding == "gzip" and rest.startswith(b"\x1f\x8b"):
                    self._obj = self._new()  # a multi-member gzip body
                    data = rest
                else:
                    self.finished = True  # trailing junk after the stream is ignored

    def close(self) -> None:
        if not self.finished:
            self._emit(self._obj.flush())

    @property
    def output(self) -> bytes:
        return b"".join(self.chunks)


def _content_coding(headers: list[tuple[str, str]]) -> str:
    codings = [
        value.strip().lower()
        for name, raw in headers
        if name.lower() == "content-encoding"
        for value in raw.split(",")
        if value.strip() and value.strip().lower() != "identity"
    ]
    if not codings:
        return "identity"
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return "gzip" if codings[0] == "x-gzip" else codings[0]
    return "unknown"


@dataclass
class Body:
    """A body as read: on the wire (de-chunked) and decoded, each capped."""

    raw: bytes = b""
    decoded: bytes = b""
    content_decoded: bool = False
    truncated: bool = False
    failure: Failure | None = None


def body_read(
    response: http.client.HTTPResponse,
    sock: socket.socket,
    headers: list[tuple[str, str]],
    policy: Policy,
    deadline: Deadline,
) -> Body:
    """The response's body within the caps; never raises for a cap, a timeout or a broken
    stream (the Body's `failure` says which)."""
    body = Body()
    declared = response.length
    if declared is not None and declared > policy.max_body_bytes:
        body.truncated = True
        body.failure = Failure(
            FetchOutcome.BODY_TOO_LARGE,
            f"The body is too large: the server announced {declared} bytes "
            f"(limit {policy.max_body_bytes}).",
        )
        return body
    coding = _content_coding(headers)
    decoder = (
        _Decoder(coding, policy.max_decompressed_bytes) if coding in ("gzip", "deflate") else None
    )
    raw: list[bytes] = []
    received = 0
    try:
        while True:
            sock.settimeout(deadline.budget(policy.read_timeout))
            # read1 returns after one receive, so the caps and deadline are checked often;
            # asking for one byte more than the cap tells us the body is over it.
            chunk = response.read1(min(CHUNK, policy.max_body_bytes - received + 1))
            if not chunk:
                break
            received += len(chunk)
            if received > policy.max_body_bytes:
                chunk = chunk[: len(chunk) - (received - policy.max_body_bytes)]
                raw.append(chunk)
                if decoder:
                    decoder.feed(chunk)
                raise _BodyTooLarge
            raw.append(chunk)
            if decoder:
                decoder.feed(chunk)
        if deadline.passed:
            # The watchdog shut the socket down: what looks like the end is the deadline.
            raise Failure(FetchOutcome.DEADLINE_EXCEEDED, "The total time limit was exceeded.")
        if declared is not None and received < declared:
            raise http.client.IncompleteRead(b"", declared - received)
        if decoder:
            decoder.close()
    except _BodyTooLarge:
        body.truncated = True
        body.failure = Failure(
            FetchOutcome.BODY_TOO_LARGE,
            f"The body is too large (limits: {policy.max_body_bytes} bytes received, "
            f"{policy.max_decompressed_bytes} bytes decompressed).",
        )
    except zlib.error as exc:
        body.failure = Failure(
            FetchOutcome.PROTOCOL_ERROR, f"The body could not be decompressed ({exc})."
        )
        decoder = None
    except http.client.IncompleteRead as exc:
        raw.append(exc.partial)
        decoder = None
        body.truncated = True
        body.failure = read_failure(exc, deadline, "The server closed the connection early")
    except (OSError, http.client.HTTPException) as exc:
        body.truncated = True
        body.failure = read_failure(exc, deadline, "Reading the body failed")
    except Failure as failure:  # the deadline, from deadline.budget
        body.truncated = True
        body.failure = failure
    body.raw = b"".join(raw)
    if decoder is not None:
        body.decoded, body.content_decoded = decoder.output, True
    else:
        body.decoded = body.raw
    return body


def read_failure(exc: BaseException, deadline: Deadline, what: str) -> Failure:
    """The failure a read error stands for: the deadline, a silent server, or a broken
    response."""
    if deadline.passed:
        return Failure(FetchOutcome.DEADLINE_EXCEEDED, "The total time limit was exceeded.")
    if isinstance(exc, TimeoutError):
        return Failure(FetchOutcome.READ_TIMEOUT, "The server stopped sending data.")
    return Failure(FetchOutcome.PROTOCOL_ERROR, f"{what} ({exc}).")
