"""Refresh the IANA RDAP bootstrap files (RFC 9224) through the safe fetcher."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from cases.agency.rdap.bootstrap import KINDS, BootstrapError, bootstrap_parse
from cases.agency.rdap.client import Transport
from cases.kernel.net.fetcher import fetch

IANA_BASE = "https://data.iana.org/rdap/"


def rdap_bootstrap_refresh(
    *, directory: Path, transport: Transport, base_url: str = IANA_BASE, write: bool = True
) -> dict[str, int]:
    """Fetch dns.json, ipv4.json and ipv6.json from `base_url`, check their format and
    (with `write`) replace the files in `directory`, all three or none. Returns the number
    of service entries per file. Raises BootstrapError with the reason."""
    bodies: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    for kind in KINDS:
        url = f"{base_url.rstrip('/')}/{kind}.json"
        result = fetch(url, transport.policy, resolver=transport.resolver)
        if not result.ok or result.status_code != 200:
            raise BootstrapError(f"{url}: {result.message or f'HTTP {result.status_code}'}")
        if result.truncated:
            raise BootstrapError(f"{url}: larger than the size limit")
        try:
            data = json.loads(result.body)
        except ValueError as exc:
            raise BootstrapError(f"{url}: not JSON ({exc})") from exc
        bootstrap_parse(kind, data)
        bodies[kind] = result.body
        counts[kind] = len(data["services"])
    if write:
        directory.mkdir(parents=True, exist_ok=True)
        for kind, body in bodies.items():
            # Written beside the target, then renamed: a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{kind}.", suffix=".json")
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            Path(tmp).replace(directory / f"{kind}.json")
    return counts
