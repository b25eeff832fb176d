"""Network grants: only declared hosts and ports, through a per-run gateway."""
