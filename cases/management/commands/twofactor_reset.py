"""Remove a user's two-factor devices (lost phone and lost recovery codes)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from cases.agency.services.twofactor import twofactor_reset


class Command(BaseCommand):
    help = (
        "Remove every two-factor device (authenticator and recovery codes) of one user, who "
        "then enrols again at the next login. Check the person's identity first. Audited."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        if twofactor_reset(user=user):
            self.stdout.write(f"two-factor login of {user.username} removed")
        else:
            self.stdout.write(f"{user.username} had no two-factor devices")
