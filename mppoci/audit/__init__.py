"""The audit trail: a hash-chained, optionally signed, append-only log."""
