"""After `migrate`, notices wrongly marked sent by old code are reclassified through the
audit trail."""

from __future__ import annotations

import sys
from typing import Any

from django.db import DEFAULT_DB_ALIAS

from cases.notices.services.reclassify import migrations_complete, notices_reclassify_unsubmitted


def reclassify_after_migrate(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate of the cases app (connected in CasesConfig.ready): put the notices the old
    code wrongly marked sent back to awaiting submission, through the audit trail. A no-op
    once done; skipped until the database is fully migrated."""
    # The audit service writes to the default database only.
    if using != DEFAULT_DB_ALIAS or not migrations_complete(using):
        return
    moved = notices_reclassify_unsubmitted()
    if moved and kwargs.get("verbosity", 1) >= 1:
        stdout = kwargs.get("stdout") or sys.stdout
        stdout.write(f"  Put {moved} unsubmitted web-form notice(s) back to awaiting submission.\n")
