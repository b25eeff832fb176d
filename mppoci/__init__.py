"""mppoci: signed, sandboxed Model Package Protocol tools shipped as OCI artifacts."""

__version__ = "0.1.0"
