"""Kubernetes backend: render the compiled sandbox as cluster objects, check them
against the Pod Security Standards, and deliver verified content inside the cluster."""
