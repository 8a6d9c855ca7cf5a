"""Fixtures of the dossier tests: a 60-item case of Aurora's, built by tests.reports.builders."""

from __future__ import annotations

import pytest

from tests.reports.builders import build_case


@pytest.fixture
def big_case(agency, bob, artist):  # type: ignore[no-untyped-def]
    return build_case(agency=agency, actor=bob, artists=[artist], items=60)


@pytest.fixture
def small_case(agency, bob, artist):  # type: ignore[no-untyped-def]
    return build_case(agency=agency, actor=bob, artists=[artist], items=6)
