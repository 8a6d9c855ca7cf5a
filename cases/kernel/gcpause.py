"""CPython's cyclic garbage collector held off during a block that allocates millions of
short-lived objects and makes no garbage cycles of its own (a PDF render's box tree, the
audit verifier's row tuples); back as it was afterwards, also when the block raises.

Each young collection walks the objects allocated since the last one, and each time the heap
has grown by a quarter CPython walks all of it: for such a block that is work with nothing to
free (reports.render and cases.kernel.audit.fastwalk give the measured cost).

Only in a single-threaded process (a Celery prefork child, a management command, a forked
verify worker): the switch is process-wide, so in a threaded one (a gthread web worker, the
embedded worker of `make run`) the other threads' cycles would wait too; there the block
runs with the collector as it is."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collections_paused() -> Iterator[bool]:
    """No cyclic collection during the block where that is safe (see the module); yields
    whether it paused the collector (False: already off, or other threads run)."""
    paused = gc.isenabled() and threading.active_count() == 1
    if paused:
        gc.disable()
    try:
        yield paused
    finally:
        if paused:
            gc.enable()
