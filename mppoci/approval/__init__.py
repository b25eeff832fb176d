"""Approvals: the user's consent to a package's permission set."""
