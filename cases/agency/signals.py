"""Hooks that agency administration sends (connected in cases/wiring.py)."""

from __future__ import annotations

from django.dispatch import Signal

# A new agency was created, inside agency_create's transaction. Argument: agency. Receivers
# seed what the agency needs from contexts above this one (removal signatures, ...).
agency_created = Signal()
