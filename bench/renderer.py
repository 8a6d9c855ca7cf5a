"""The API's JSON renderer (cases.kernel.renderers.FastJSONRenderer) against DRF's
JSONRenderer, in process: one findings page (50 rows as FindingSerializer writes the list's
plain rows, in a cursor page) rendered by each, best of many runs. Needs no database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from common import emit, note, setup_django

setup_django()

from rest_framework.renderers import JSONRenderer  # noqa: E402

from cases.intake.api import FindingSerializer  # noqa: E402
from cases.intake.selectors import LIST_TIMES  # noqa: E402
from cases.kernel.renderers import FastJSONRenderer  # noqa: E402

ROWS = 50
ROUNDS = 2000


def _page() -> dict[str, Any]:
    start = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    rows = []
    for n in range(ROWS):
        row: dict[str, Any] = {
            "id": 100_000 + n,
            "canonical_url": f"https://www.youtube.com/watch?v=clip{n:07d}",
            "host": "www.youtube.com",
            "platform_id": 3,
            "platform_name": "YouTube",
            "artists": [{"id": 7, "stage_name": "Yuna", "name_hangul": "유나"}],
            "source": "staff",
            "status": "triaged",
            "dismissed_reason": "",
            "assignee_id": None if n % 3 else 4,
            "assignee_username": None if n % 3 else "bob",
        }
        for k, name in enumerate(LIST_TIMES):
            row[name] = start + timedelta(minutes=n + k) if k < 3 else None
        rows.append(row)
    results = FindingSerializer(rows, many=True).data
    cursor = "https://agency.example/api/findings/?cursor=cD0yMDI2LTAzLTAx"
    return {"next": cursor, "previous": None, "results": results}


def _best_us(render: Any, data: Any) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        render(data)
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def main() -> None:
    page = _page()
    drf, fast = JSONRenderer().render, FastJSONRenderer().render
    assert drf(page) == fast(page), "the renderers disagree"
    drf_us, fast_us = _best_us(drf, page), _best_us(fast, page)
    note(f"{ROWS} rows, {len(drf(page))} bytes, best of {ROUNDS} renders each")
    emit("renderer_drf_page", drf_us, "us")
    emit("renderer_orjson_page", fast_us, "us")
    emit("renderer_speedup", drf_us / fast_us, "x")


if __name__ == "__main__":
    main()
