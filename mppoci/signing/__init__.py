"""cosign-compatible signing, on bytes and values only.

``keys`` reads and writes cosign's key files, ``payload`` makes and parses the
simple-signing payload that is signed, ``ecdsa`` signs and verifies it, and
``cosign_manifest`` builds and reads the ``sha256-<hex>.sig`` manifest that
carries signatures on a registry; ``evidence`` is one signature as found
beside its subject. Nothing here touches the network, and files
only when a function takes a path.
"""
