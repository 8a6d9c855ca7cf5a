"""The errors of notice services: each message is for the user."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.translation import gettext as _

from cases.notices.bases import Requirement


class NoticeError(ValueError):
    """A notice action that cannot be done; the message is for the user."""


class NoticeSendRefused(NoticeError):
    """Sending was refused because required fields are missing (named in the message)."""

    def __init__(self, missing: Sequence[Requirement]) -> None:
        self.missing = list(missing)
        names = "; ".join(str(req.label) for req in self.missing)
        super().__init__(_("This notice cannot be sent. Missing: %(fields)s.") % {"fields": names})
