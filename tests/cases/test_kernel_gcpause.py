"""cases.kernel.gcpause: the collector is off inside the block only where that is safe, and
always back as it was."""

from __future__ import annotations

import gc
import threading

import pytest

from cases.kernel import gcpause
from cases.kernel.gcpause import collections_paused


@pytest.fixture
def single_threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test process may hold a live server's thread from another test.
    monkeypatch.setattr(gcpause.threading, "active_count", lambda: 1)


def test_paused_in_the_block_and_back_afterwards(single_threaded: None) -> None:
    assert gc.isenabled()
    with collections_paused() as paused:
        assert paused and not gc.isenabled()
    assert gc.isenabled()


def test_back_on_when_the_block_raises(single_threaded: None) -> None:
    with pytest.raises(RuntimeError), collections_paused():
        assert not gc.isenabled()
        raise RuntimeError("render failed")
    assert gc.isenabled()


def test_left_off_when_it_was_off(single_threaded: None) -> None:
    gc.disable()
    try:
        with collections_paused() as paused:
            assert not paused and not gc.isenabled()
        assert not gc.isenabled()  # not switched on by the block
    finally:
        gc.enable()


def test_untouched_in_a_threaded_process() -> None:
    """Another thread runs: the switch is process-wide, so the block keeps the collector."""
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        assert threading.active_count() > 1
        with collections_paused() as paused:
            assert not paused and gc.isenabled()
    finally:
        release.set()
        worker.join()
    assert gc.isenabled()
