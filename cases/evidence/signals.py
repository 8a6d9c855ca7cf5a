"""Hooks that evidence sends (connected in cases/wiring.py)."""

from __future__ import annotations

from django.dispatch import Signal

# A new original was stored and committed. Argument: evidence_id. Receivers queue work
# derived from it in contexts above evidence (PDQ hashing and matching, ...).
evidence_stored = Signal()
