"""Watched-source tests: the fixture web through the loopback test switch, and Aurora's
roster of two artists whose names the sources mention."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.factories import ArtistFactory
from tests.monitor.web import FixtureWeb, fixture_web


@pytest.fixture
def web(settings) -> Iterator[FixtureWeb]:  # type: ignore[no-untyped-def]
    with fixture_web() as running:
        settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = True
        settings.MONITOR_ALLOWED_PORTS = [running.port]
        yield running


@pytest.fixture
def seori(agency):  # type: ignore[no-untyped-def]
    return ArtistFactory(
        agency=agency,
        stage_name="Seori",
        name_hangul="서리",
        name_latin="Kim Seo-ri",
        aliases=["Seo-ri"],
    )


@pytest.fixture
def mina(agency):  # type: ignore[no-untyped-def]
    return ArtistFactory(agency=agency, stage_name="Mina", name_hangul="미나", name_latin="")
