"""The one way tests and benchmarks find their data files: tests/data, kept in the repository
with its licences (tests/data/README.md), so a clone anywhere runs the whole suite."""

from __future__ import annotations

from pathlib import Path

TEST_DATA = Path(__file__).resolve().parent / "data"


def data_file(*parts: str) -> Path:
    """A file or folder of tests/data. A missing one raises: the test fails, it never skips."""
    path = TEST_DATA.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"test data {path} is missing: tests/data is part of the repository"
        )
    return path
