"""The sandbox: one fresh, locked-down container per invocation."""
