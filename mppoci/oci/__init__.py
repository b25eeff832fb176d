"""OCI image-spec vocabulary: media types, descriptors, manifests and indexes."""
