"""The agency target of detect_rerun and exchange_bank_backfill (detection.management.targets):
an unknown slug and a missing target are refused with a clear error, nothing is done."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

COMMANDS = ["detect_rerun", "exchange_bank_backfill"]


@pytest.mark.django_db
@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_agency_is_refused(command: str) -> None:
    with pytest.raises(CommandError, match="no agency with slug 'nobody'"):
        call_command(command, "--agency", "nobody")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_target_is_required(command: str) -> None:
    with pytest.raises(CommandError, match="--agency"):
        call_command(command)
