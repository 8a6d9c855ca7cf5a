"""Writes. Each service is keyword-only, owns its transaction, writes the audit trail in it,
and enqueues follow-up work with transaction.on_commit."""
