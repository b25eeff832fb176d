"""Packages: deterministic content archives, OCI artifacts, safe extraction, scaffolding."""
