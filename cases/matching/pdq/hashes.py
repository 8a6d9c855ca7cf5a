"""The PDQ hash as a value: 256 bits, as 64 hex digits or 32 bytes, compared by Hamming
distance.

PDQ (Meta's photo hash) gives 256 bits and a quality score 0-100. Re-encoded or resized copies
of a photo stay within a few bits of the original, unrelated photos sit near 128 (faces of
other people: 70 and more, measured), and 31 is Meta's "same image" threshold, our default."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
HEX_LENGTH = HASH_BYTES * 2
# Meta's threshold for "same image" (ThreatExchange PDQ docs): 31 of 256 bits.
MATCH_DISTANCE = 31
# PDQ's own advice: hashes of quality below 50 (flat or tiny images) match too easily.
LOW_QUALITY = 50

# Popcount of every byte: numpy < 2 has no bitwise_count (and pdqhash needs numpy < 2).
_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
# The same for 16-bit words: half the lookups of the byte table for a full scan.
_POPCOUNT16 = _POPCOUNT8[np.arange(1 << 16) & 0xFF] + _POPCOUNT8[np.arange(1 << 16) >> 8]


class HashError(ValueError):
    """An image that cannot be hashed, or a malformed hash; the message is for the user."""


def hash_to_bytes(value: str | bytes) -> bytes:
    """32 raw bytes from 64 hex digits (or bytes passed through after a length check)."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
    else:
        try:
            raw = bytes.fromhex(value.strip())
        except ValueError as exc:
            raise HashError(f"not a hexadecimal PDQ hash: {value[:80]!r}") from exc
    if len(raw) != HASH_BYTES:
        raise HashError(f"a PDQ hash has {HASH_BYTES} bytes, not {len(raw)}")
    return raw


def hash_to_hex(value: bytes | np.ndarray) -> str:
    """64 lowercase hex digits from 32 bytes (or a uint8 array of 32)."""
    raw = value.tobytes() if isinstance(value, np.ndarray) else bytes(value)
    if len(raw) != HASH_BYTES:
        raise HashError(f"a PDQ hash has {HASH_BYTES} bytes, not {len(raw)}")
    return raw.hex()


def hashes_from_hex(values: Iterable[str]) -> np.ndarray:
    """An (n, 32) uint8 matrix from hex strings, in one pass (no per-row numpy objects)."""
    joined = "".join(values)
    if len(joined) % HEX_LENGTH:
        raise HashError("every PDQ hash must have 64 hex digits")
    try:
        raw = bytes.fromhex(joined)
    except ValueError as exc:
        raise HashError("a PDQ hash is not hexadecimal") from exc
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, HASH_BYTES).copy()


def hamming(a: str | bytes, b: str | bytes) -> int:
    """Bits that differ between two hashes."""
    x = np.frombuffer(hash_to_bytes(a), np.uint8) ^ np.frombuffer(hash_to_bytes(b), np.uint8)
    return int(_POPCOUNT8[x].sum())


def hamming_distances(matrix: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Hamming distance from `row` to every row of `matrix` (n, 32): XOR, then popcount
    through a 64K-entry table on 16-bit words (16 lookups a row)."""
    xor = np.bitwise_xor(matrix, row).view(np.uint16)
    return _POPCOUNT16[xor].sum(axis=1, dtype=np.uint16)
