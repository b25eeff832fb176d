"""Packages: deterministic content archives, OCI artifacts, safe extraction, offline
bundles, scaffolding."""
