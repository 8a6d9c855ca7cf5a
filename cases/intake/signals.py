"""Hooks that intake sends and contexts above it listen to (connected in cases/wiring.py),
so that intake never imports them."""

from __future__ import annotations

from django.dispatch import Signal

# A finding's status became Removed. Arguments: finding, capture (the capture that saw it
# gone, or None when a person set the status).
finding_removed = Signal()

# A fan's screenshot was stored (sent inside the storing transaction). Arguments:
# screenshot_id. Matching connects to it to hash the screenshot and link the same media.
fan_screenshot_stored = Signal()

# A watched source whose switch `capture_strong_matches` is on recorded a new finding whose
# media match closely (sent inside the transaction that records it). Arguments: finding,
# source. The capture side connects to request a capture; a receiver's answer is the capture.
strong_match_discovered = Signal()
