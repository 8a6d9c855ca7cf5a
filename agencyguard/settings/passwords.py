"""Passwords: reset links by e-mail and their rate limits (cases.agency.services.account)."""

from __future__ import annotations

import os

from agencyguard.settings.env import envint

# A reset link works once and for this long (Django's token: it also dies as soon as the
# password changes or the user logs in). Links go to SITE_URL (agencyguard.settings.core).
PASSWORD_RESET_TIMEOUT = envint("PASSWORD_RESET_TIMEOUT_S", str(24 * 3600))
# Reset requests per e-mail address and per client address (django-ratelimit rates). Over
# the limit the page answers as usual and sends nothing, so it reveals nothing either.
PASSWORD_RESET_RATE_PER_EMAIL = os.getenv("PASSWORD_RESET_RATE_PER_EMAIL", "3/h")
PASSWORD_RESET_RATE_PER_IP = os.getenv("PASSWORD_RESET_RATE_PER_IP", "20/h")
