"""Fixtures of the capture tests: the local suspect site, the internal service that must
never be reached, and the fake network that puts the site on a public address."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.capture.capture_site import FakeNetwork, InternalService, SuspectSite
from tests.conftest import require_service


@pytest.fixture
def internal() -> Iterator[InternalService]:
    service = InternalService()
    yield service
    service.stop()


@pytest.fixture
def site(internal: InternalService) -> Iterator[SuspectSite]:
    suspect = SuspectSite(internal_port=internal.port).start()
    yield suspect
    suspect.stop()


@pytest.fixture
def network(site: SuspectSite) -> FakeNetwork:
    return FakeNetwork(site.port)


@pytest.fixture
def capture_settings(settings, internal: InternalService):  # type: ignore[no-untyped-def]
    """The production policy (no loopback), with the internal service's port allowed so
    that what refuses it is the address check alone."""
    settings.CAPTURE_ALLOWED_PORTS = [80, 443, internal.port]
    settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = False
    settings.CAPTURE_SCREENSHOT = True
    settings.CAPTURE_BROWSER_TIMEOUT_S = 20
    return settings


@pytest.fixture
def no_screenshot(capture_settings):  # type: ignore[no-untyped-def]
    """Re-check and lifecycle tests do not need Chromium: they run in a fraction of the time."""
    capture_settings.CAPTURE_SCREENSHOT = False
    return capture_settings


@pytest.fixture
def chromium(capture_settings) -> str:  # type: ignore[no-untyped-def]
    path = capture_settings.CAPTURE_CHROMIUM_PATH
    require_service(shutil.which(path) is not None, f"headless Chromium not found at {path}")
    return path
