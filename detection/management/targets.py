"""The agencies a command works on: `--agency SLUG` or `--all`, one of them required."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db.models import QuerySet

from cases.kernel.models import Agency


def add_agency_target(parser: CommandParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--agency", help="the agency's slug")
    target.add_argument("--all", action="store_true", help="every agency")


def target_agencies(options: dict[str, Any]) -> QuerySet[Agency]:
    """The agency named by --agency (CommandError when there is none), or every agency."""
    agencies = Agency.objects.order_by("pk")
    if options["agency"]:
        agencies = agencies.filter(slug=options["agency"])
        if not agencies.exists():
            raise CommandError(f"no agency with slug {options['agency']!r}")
    return agencies
