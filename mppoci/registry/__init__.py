"""OCI distribution: talking to registries (auth, transport) and moving packages."""
