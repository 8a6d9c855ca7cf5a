"""The domain core: tenancy, roster, findings, cases, audit trail (see design.md)."""
