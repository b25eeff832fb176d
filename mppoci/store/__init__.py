"""The local store: a standard OCI image layout that other OCI tools can read."""

from mppoci.store.layout import BlobWriter, Store

__all__ = ["BlobWriter", "Store"]
