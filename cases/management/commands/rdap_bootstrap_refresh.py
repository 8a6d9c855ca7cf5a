"""Fetch IANA's RDAP bootstrap files (dns.json, ipv4.json, ipv6.json) through the safe
fetcher and write them into RDAP_BOOTSTRAP_DIR, where abuse-contact lookups read them
before the bundled partial copy (cases/agency/rdap/data/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.agency.rdap.bootstrap import BootstrapError
from cases.agency.services.abuse_lookups import abuse_lookup_transport
from cases.agency.services.rdap_bootstrap import IANA_BASE, rdap_bootstrap_refresh


class Command(BaseCommand):
    help = "Refresh the IANA RDAP bootstrap files used by abuse-contact lookups."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source", default=IANA_BASE, help=f"Where the three files are (default {IANA_BASE})."
        )
        parser.add_argument("--dir", default="", help="Write here instead of RDAP_BOOTSTRAP_DIR.")
        parser.add_argument(
            "--check", action="store_true", help="Fetch and check the files; write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        directory = Path(options["dir"]) if options["dir"] else Path(settings.RDAP_BOOTSTRAP_DIR)
        try:
            counts = rdap_bootstrap_refresh(
                directory=directory,
                transport=abuse_lookup_transport(),
                base_url=options["source"],
                write=not options["check"],
            )
        except BootstrapError as exc:
            raise CommandError(f"Bootstrap files not refreshed: {exc}") from exc
        summary = ", ".join(f"{kind}.json: {n} entries" for kind, n in counts.items())
        where = "checked only" if options["check"] else f"written to {directory}"
        self.stdout.write(f"{summary} ({where})")
