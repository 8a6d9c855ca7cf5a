"""RFC 3161 trusted timestamps over a packet's manifest hash.

A deployment names its Time-Stamp Authority in settings.TSA_URL; without one nothing is
requested and the packet says "not timestamped". The request is small DER written here
(TimeStampReq: version 1, SHA-256 message imprint, a random nonce, certReq true), posted
through the capture network policy (cases.kernel.net.policy: the address is resolved once,
checked like any suspect URL, and the connection goes to that pinned address), and the
TSA's whole TimeStampResp is kept as manifest.json.tsr, which
`openssl ts -verify -in manifest.json.tsr -data manifest.json -CAfile tsa-chain.pem` checks.
"""

from __future__ import annotations

import http.client
import logging
import secrets
import socket
import ssl
from dataclasses import dataclass

from django.conf import settings

from cases.kernel.net.connection import direct_connector
from cases.kernel.net.policy import Policy, PolicyRefused, check_address, check_url

log = logging.getLogger(__name__)
SHA256_OID_DER = bytes.fromhex("0609608648016503040201")  # OID 2.16.840.1.101.3.4.2.1
MAX_RESPONSE_BYTES = 256 * 1024
GRANTED = (0, 1)  # PKIStatus granted, grantedWithMods


class TimestampError(Exception):
    """The TSA could not be reached, refused, or answered something that is not a token."""


def _der_len(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(value)) + value


def _der_int(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8 or 1, "big")
    return _tlv(0x02, body)


def timestamp_request_der(digest: bytes, nonce: int) -> bytes:
    """TimeStampReq ::= SEQUENCE { version 1, messageImprint, nonce, certReq TRUE }."""
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    algorithm = _tlv(0x30, SHA256_OID_DER + b"\x05\x00")
    imprint = _tlv(0x30, algorithm + _tlv(0x04, digest))
    return _tlv(0x30, _der_int(1) + imprint + _der_int(nonce) + _tlv(0x01, b"\xff"))


def _read_tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, value start, value end) of the element at offset."""
    if offset + 2 > len(data):
        raise TimestampError("truncated DER")
    tag, first = data[offset], data[offset + 1]
    start = offset + 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise TimestampError("bad DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    else:
        length = first
    if start + length > len(data):
        raise TimestampError("truncated DER")
    return tag, start, start + length


def response_status(response: bytes) -> tuple[int, bool]:
    """(PKIStatus, has a token) of a TimeStampResp."""
    tag, start, end = _read_tlv(response, 0)
    if tag != 0x30:
        raise TimestampError("not a TimeStampResp")
    tag, status_start, status_end = _read_tlv(response, start)
    if tag != 0x30:
        raise TimestampError("TimeStampResp lacks PKIStatusInfo")
    tag, int_start, int_end = _read_tlv(response, status_start)
    if tag != 0x02:
        raise TimestampError("PKIStatusInfo lacks a status")
    return int.from_bytes(response[int_start:int_end], "big"), status_end < end


@dataclass
class TimestampResult:
    tsa_url: str
    token: bytes  # the whole TimeStampResp, DER


def _policy(port: int) -> Policy:
    # The TSA is chosen by the operator, so its port is allowed; its address still passes
    # the same checks as a suspect URL (no internal targets through a bad DNS answer).
    return Policy(
        allowed_ports=frozenset({80, 443, port}),
        allow_loopback=settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS,
        max_redirects=0,
    )


def _post(url: str, body: bytes, timeout: float) -> bytes:
    from urllib.parse import urlsplit

    port = urlsplit(url).port or (443 if url.lower().startswith("https:") else 80)
    policy = _policy(port)
    target = check_url(url, policy)
    addresses = (
        [target.host]
        if target.is_ip_literal
        else sorted({str(info[4][0]) for info in socket.getaddrinfo(target.host, target.port)})
    )
    for address in addresses:
        check_address(address, allow_loopback=policy.allow_loopback)
    sock = direct_connector(addresses[0], target.port, timeout)
    if target.scheme == "https":
        context = ssl.create_default_context()
        sock = context.wrap_socket(sock, server_hostname=target.host)
    try:
        request = (
            f"POST {target.request_target} HTTP/1.1\r\nHost: {target.host_header}\r\n"
            "Content-Type: application/timestamp-query\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
            "User-Agent: AgencyGuard-Packet/1.0\r\n\r\n"
        ).encode("ascii")
        sock.sendall(request + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        if response.status != 200:
            raise TimestampError(f"the TSA answered HTTP {response.status}")
        data = response.read(MAX_RESPONSE_BYTES + 1)
        if len(data) > MAX_RESPONSE_BYTES:
            raise TimestampError("the TSA's answer is too large")
        return data
    finally:
        sock.close()


def timestamp_manifest(digest: bytes) -> TimestampResult | None:
    """An RFC 3161 token over `digest`, or None when no TSA is configured. Raises
    TimestampError when one is configured but fails (the caller records that)."""
    url = getattr(settings, "TSA_URL", "")
    if not url:
        return None
    nonce = secrets.randbits(63)
    try:
        token = _post(url, timestamp_request_der(digest, nonce), settings.TSA_TIMEOUT_S)
    except PolicyRefused as exc:
        raise TimestampError(f"the TSA address is refused by the network policy: {exc}") from exc
    except OSError as exc:
        raise TimestampError(f"the TSA could not be reached: {exc}") from exc
    status, has_token = response_status(token)
    if status not in GRANTED or not has_token:
        raise TimestampError(f"the TSA did not grant a token (status {status})")
    return TimestampResult(tsa_url=url, token=token)
