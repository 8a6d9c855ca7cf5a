"""Hooks that agency administration sends (connected in cases/wiring.py)."""

from __future__ import annotations

from django.dispatch import Signal

# A new agency was created, inside agency_create's transaction. Argument: agency. Receivers
# seed what the agency needs from contexts above this one (removal signatures, ...).
agency_created = Signal()

# An artist's consent to share their confirmed fakes' hashes was recorded or withdrawn,
# inside the service's transaction. Argument: artist. The exchange bank (cases.matching)
# publishes or withdraws the artist's signals.
artist_consent_changed = Signal()
