"""Every way a manifest is refused, each with the exact problem line it gives.

Each case patches a known-good manifest (tests/assets/manifests/valid-maximal.yaml)
in one place, or is a whole hostile file kept under tests/assets/manifests/.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mppoci.errors import ManifestError
from mppoci.limits import DEFAULT_LIMITS, Limits
from mppoci.manifest import parse_config, parse_source

ASSETS = Path(__file__).parent.parent / "assets" / "manifests"
GOOD: dict[str, Any] = yaml.safe_load((ASSETS / "valid-maximal.yaml").read_bytes())

TOP_ALLOWED = (
    "allowed here: schemaVersion, name, version, description, authors, license, runtime, "
    "entrypoint, protocol, tools, permissions"
)
DIGEST = "sha256:" + "ab" * 32
QUANTITY = "must be a quantity such as 256Mi (bytes, or a number with Ki, Mi, Gi, Ti, k, M, G or T)"
DURATION = "must be a duration such as 30s (a whole number with ms, s, m or h)"
CPUS = "must be a decimal number of CPUs with at most 3 decimals, such as 0.5"
HOST_BAD = "must be a DNS name (api.acme.test) or a wildcard (*.acme.test)"
HOST_IP = (
    "is an IP address; the sandbox reaches destinations by name only: give the "
    "destination a name and its address (host: db.internal, address: 10.0.12.7)"
)
ADDRESS_PRIVATE = (
    "must lie in a private range (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7); "
    "this is {}: loopback, link-local, multicast and reserved addresses are never "
    "reachable, and public ones need no address"
)
SOCKET = "is where a container engine socket lives; mppoci never gives one to a tool"
UNPINNED = (
    "an image from a registry must be pinned; write NAME@sha256:<digest> "
    "(only runtime names such as python3 are resolved by mppoci build)"
)

# --- patching a document by the same paths the problems use ------------------

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _TOKEN.findall(path)]


def _parent(doc: Any, path: str) -> tuple[Any, str | int]:
    *head, last = _steps(path)
    for step in head:
        doc = doc[step]
    return doc, last


def set_(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def patch(doc: dict[str, Any]) -> None:
        parent, last = _parent(doc, path)
        parent[last] = value

    return patch


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    def patch(doc: dict[str, Any]) -> None:
        parent, last = _parent(doc, path)
        del parent[last]

    return patch


def asset(name: str) -> bytes:
    return (ASSETS / name).read_bytes()


@dataclass(frozen=True)
class Case:
    id: str
    patch: Callable[[dict[str, Any]], None] | bytes
    line: str
    limits: Limits = DEFAULT_LIMITS

    def data(self) -> bytes:
        if isinstance(self.patch, bytes):
            return self.patch
        doc = copy.deepcopy(GOOD)
        self.patch(doc)
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")


def _deep_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


CASES = [
    # --- required fields ------------------------------------------------------
    *(
        Case(f"missing-{key}", drop(key), f"{key}: is required")
        for key in (
            "schemaVersion",
            "name",
            "version",
            "description",
            "authors",
            "license",
            "runtime",
            "entrypoint",
            "protocol",
            "tools",
        )
    ),
    Case("missing-tool-name", drop("tools[0].name"), "tools[0].name: is required"),
    Case(
        "missing-tool-description",
        drop("tools[1].description"),
        "tools[1].description: is required",
    ),
    Case(
        "missing-filesystem-why",
        drop("permissions.filesystem[0].why"),
        "permissions.filesystem[0].why: is required",
    ),
    Case(
        "missing-egress-port",
        drop("permissions.network.egress[0].port"),
        "permissions.network.egress[0].port: is required",
    ),
    Case(
        "missing-storage-size",
        drop("permissions.storage[0].size"),
        "permissions.storage[0].size: is required",
    ),
    # --- unknown fields at every level ---------------------------------------
    Case("unknown-top-level", set_("colour", "red"), f"colour: unknown field ({TOP_ALLOWED})"),
    Case(
        "unknown-in-tool",
        set_("tools[0].timeout", "5s"),
        "tools[0].timeout: unknown field (allowed here: name, description, inputSchema, "
        "annotations, requiresConfirmation)",
    ),
    Case(
        "unknown-annotation-typo",
        set_("tools[0].annotations.readonlyHint", True),
        "tools[0].annotations.readonlyHint: unknown field (allowed here: title, readOnlyHint, "
        "destructiveHint, idempotentHint, openWorldHint)",
    ),
    Case(
        "unknown-in-permissions",
        set_("permissions.devices", ["/dev/kvm"]),
        "permissions.devices: unknown field (allowed here: filesystem, network, env, storage, "
        "resources)",
    ),
    Case(
        "unknown-in-egress",
        set_("permissions.network.egress[0].protocol", "udp"),
        "permissions.network.egress[0].protocol: unknown field (allowed here: host, port, why, "
        "dangerouslyAllowAnyHost, address)",
    ),
    Case(
        "unknown-in-resources",
        set_("permissions.resources.gpus", 1),
        "permissions.resources.gpus: unknown field (allowed here: memory, cpus, pids, timeout, "
        "tmp)",
    ),
    Case(
        "unknown-in-network",
        set_("permissions.network.ingress", []),
        "permissions.network.ingress: unknown field (allowed here: egress)",
    ),
    Case(
        "unknown-key-with-dots-is-quoted",
        lambda doc: doc.update({"a.b": 1}),
        f'["a.b"]: unknown field ({TOP_ALLOWED})',
    ),
    # --- schemaVersion, name, version ----------------------------------------
    Case(
        "schema-version-from-the-future",
        set_("schemaVersion", 2),
        "schemaVersion: 2 is not supported by this mppoci (supports 1); "
        "upgrade mppoci to read this package",
    ),
    Case(
        "schema-version-as-text", set_("schemaVersion", "1"), "schemaVersion: must be the integer 1"
    ),
    Case(
        "name-uppercase",
        set_("name", "Acme/CSV"),
        "name: must be publisher/tool, each part lowercase letters and digits, separated inside "
        "by single '.', '_' or '-' (such as acme/csv-query)",
    ),
    Case(
        "name-without-publisher",
        set_("name", "csv-query"),
        "name: must be publisher/tool, each part lowercase letters and digits, separated inside "
        "by single '.', '_' or '-' (such as acme/csv-query)",
    ),
    Case(
        "name-path-traversal",
        set_("name", "acme/../../etc"),
        "name: must be publisher/tool, each part lowercase letters and digits, separated inside "
        "by single '.', '_' or '-' (such as acme/csv-query)",
    ),
    Case(
        "name-too-long",
        set_("name", "acme/" + "x" * 124),
        "name: must be at most 128 characters",
    ),
    Case(
        "version-not-semver",
        set_("version", "1.2"),
        "version: must be a SemVer 2.0 version such as 1.2.0",
    ),
    Case(
        "version-leading-zero",
        set_("version", "01.2.3"),
        "version: must be a SemVer 2.0 version such as 1.2.0",
    ),
    Case("version-as-float", set_("version", 1.2), "version: must be a string; quote it"),
    Case("version-as-int", set_("version", 1), "version: must be a string; quote it"),
    # --- description, authors, license ---------------------------------------
    Case("description-empty", set_("description", "  "), "description: must not be empty"),
    Case(
        "description-too-long",
        set_("description", "x" * 4097),
        "description: must be at most 4096 characters",
    ),
    Case("authors-empty", set_("authors", []), "authors: must not be empty"),
    Case("author-empty", set_("authors", ["Ada", ""]), "authors[1]: must not be empty"),
    Case("authors-as-text", set_("authors", "Ada"), "authors: must be a list"),
    Case(
        "license-shell",
        set_("license", "MIT; rm -rf /"),
        "license: must be an SPDX license expression (letters, digits, spaces and . + - ( ))",
    ),
    # --- runtime -------------------------------------------------------------
    Case(
        "runtime-tag",
        set_("runtime", "ghcr.io/acme/python:3.12"),
        "runtime: tags are not pinned; write NAME@sha256:<digest>",
    ),
    Case(
        "runtime-tag-and-digest",
        set_("runtime", f"ghcr.io/acme/python:3.12@{DIGEST}"),
        "runtime: tags are not pinned; write NAME@sha256:<digest>",
    ),
    Case(
        "runtime-registry-unpinned", set_("runtime", "ghcr.io/acme/python"), f"runtime: {UNPINNED}"
    ),
    Case(
        "runtime-local-registry-unpinned",
        set_("runtime", "127.0.0.1:5000/acme/python"),
        f"runtime: {UNPINNED}",
    ),
    Case(
        "runtime-short-digest",
        set_("runtime", "python3@sha256:abc"),
        "runtime: the part after @ must be sha256: followed by 64 lowercase hex digits",
    ),
    Case(
        "runtime-uppercase-digest",
        set_("runtime", "python3@sha256:" + "AB" * 32),
        "runtime: the part after @ must be sha256: followed by 64 lowercase hex digits",
    ),
    Case(
        "runtime-docker-hub-shorthand",
        set_("runtime", f"acme/python@{DIGEST}"),
        "runtime: must be a runtime name (such as python3) or a registry repository "
        "(such as ghcr.io/acme/python@sha256:<digest>)",
    ),
    # --- entrypoint, protocol ------------------------------------------------
    Case("entrypoint-empty", set_("entrypoint", []), "entrypoint: must not be empty"),
    Case("entrypoint-as-text", set_("entrypoint", "python3 main.py"), "entrypoint: must be a list"),
    Case(
        "entrypoint-empty-argument",
        set_("entrypoint", ["python3", ""]),
        "entrypoint[1]: must not be empty",
    ),
    Case(
        "entrypoint-nul",
        set_("entrypoint", ["python3", "/pkg/main.py\0--evil"]),
        "entrypoint[1]: must not contain NUL",
    ),
    Case(
        "entrypoint-too-long",
        set_("entrypoint", ["x"] * 257),
        "entrypoint: must have at most 256 entries",
    ),
    Case("protocol-unknown", set_("protocol", "http"), "protocol: must be one of: cli, mcp"),
    # --- tools ---------------------------------------------------------------
    Case("tools-empty", set_("tools", []), "tools: must not be empty"),
    Case(
        "tool-duplicate-name",
        set_("tools[1].name", "query"),
        "tools[1].name: duplicate tool name 'query' (first at tools[0])",
    ),
    Case(
        "tool-name-with-space",
        set_("tools[0].name", "run query"),
        "tools[0].name: must be 1 to 64 letters, digits, '_' or '-'",
    ),
    Case(
        "input-schema-not-object-type",
        set_("tools[0].inputSchema", {"type": "string"}),
        'tools[0].inputSchema.type: must be "object" (a tool takes named arguments)',
    ),
    Case(
        "input-schema-without-type",
        set_("tools[0].inputSchema", {"properties": {}}),
        'tools[0].inputSchema.type: must be "object" (a tool takes named arguments)',
    ),
    Case(
        "input-schema-invalid",
        set_("tools[0].inputSchema.properties.sql.type", "strin"),
        "tools[0].inputSchema.properties.sql.type: is not valid JSON Schema (draft 2020-12): "
        "'strin' is not valid under any of the given schemas",
    ),
    Case(
        "input-schema-bad-regex",
        set_("tools[0].inputSchema.properties.sql.pattern", "("),
        "tools[0].inputSchema.properties.sql.pattern: is not valid JSON Schema (draft 2020-12): "
        "'(' is not a 'regex'",
    ),
    Case(
        "input-schema-other-draft",
        set_("tools[0].inputSchema.$schema", "http://json-schema.org/draft-04/schema#"),
        "tools[0].inputSchema.$schema: must name JSON Schema draft 2020-12 "
        "(https://json-schema.org/draft/2020-12/schema), 2019-09 "
        "(https://json-schema.org/draft/2019-09/schema) or draft-07 "
        "(http://json-schema.org/draft-07/schema#), or be left out (draft 2020-12)",
    ),
    Case(
        "input-schema-draft-not-a-string",
        set_("tools[0].inputSchema.$schema", 7),
        "tools[0].inputSchema.$schema: must name JSON Schema draft 2020-12 "
        "(https://json-schema.org/draft/2020-12/schema), 2019-09 "
        "(https://json-schema.org/draft/2019-09/schema) or draft-07 "
        "(http://json-schema.org/draft-07/schema#), or be left out (draft 2020-12)",
    ),
    Case(
        "input-schema-invalid-under-draft-07",
        set_(
            "tools[0].inputSchema",
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"n": {"type": "integr"}},
            },
        ),
        "tools[0].inputSchema.properties.n.type: is not valid JSON Schema (draft-07): "
        "'integr' is not valid under any of the given schemas",
    ),
    Case(
        "input-schema-2020-12-refuses-an-items-list",
        set_(
            "tools[0].inputSchema",
            {"type": "object", "properties": {"pair": {"type": "array", "items": [{}, {}]}}},
        ),
        "tools[0].inputSchema.properties.pair.items: is not valid JSON Schema (draft 2020-12): "
        "[{}, {}] is not of type 'object', 'boolean'",
    ),
    Case(
        "input-schema-as-list",
        set_("tools[0].inputSchema", ["sql"]),
        "tools[0].inputSchema: must be a mapping (a JSON Schema)",
    ),
    Case(
        "input-schema-nan",
        set_("tools[0].inputSchema.properties.limit.maximum", float("nan")),
        "tools[0].inputSchema.properties.limit.maximum: must be a finite number "
        "(JSON has no NaN or infinity)",
    ),
    Case(
        "destructive-tool-without-confirmation",
        set_("tools[1].requiresConfirmation", False),
        "tools[1].requiresConfirmation: a destructive tool always requires confirmation; if the "
        "tool changes nothing, say so with annotations.readOnlyHint: true or "
        "annotations.destructiveHint: false",
    ),
    Case(
        "annotation-not-boolean",
        set_("tools[0].annotations.readOnlyHint", "yes please"),
        "tools[0].annotations.readOnlyHint: must be true or false",
    ),
    Case(
        "too-many-tools",
        set_("tools", [{"name": f"t{i}", "description": "x"} for i in range(3)]),
        "tools: must have at most 2 entries",
        Limits(tools=2),
    ),
    # --- mount paths ---------------------------------------------------------
    *(
        Case(
            f"mount-{case_id}",
            set_("permissions.filesystem[0].path", path),
            f"permissions.filesystem[0].path: {message}",
        )
        for case_id, path, message in (
            ("root", "/", "cannot be / itself; choose a folder below it"),
            ("proc", "/proc/x", "/proc belongs to the kernel; mounts on or under it are refused"),
            ("sys", "/sys", "/sys belongs to the kernel; mounts on or under it are refused"),
            ("dev", "/dev", "/dev belongs to the kernel; mounts on or under it are refused"),
            ("docker-sock", "/var/run/docker.sock", SOCKET),
            ("any-docker-sock", "/x/docker.sock", SOCKET),
            ("containerd-sock", "/srv/containerd.sock", SOCKET),
            ("run-containerd", "/run/containerd", SOCKET),
            (
                "pkg",
                "/pkg/data",
                "/pkg is where mppoci mounts the package content; choose another path",
            ),
            (
                "tmp",
                "/tmp",
                "/tmp is mppoci's tmpfs (sized by resources.tmp); choose another path",
            ),
            ("dot-dot", "/data/../etc", "must not contain . or .. components"),
            ("dot", "/data/./x", "must not contain . or .. components"),
            ("relative", "data", "must be an absolute path (start with /)"),
            ("empty", "", "must be an absolute path (start with /)"),
            (
                "colon",
                "/data:/etc",
                "must not contain ':', ',' or NUL; Docker's mount syntax cannot carry them",
            ),
            (
                "comma",
                "/data,readonly=false",
                "must not contain ':', ',' or NUL; Docker's mount syntax cannot carry them",
            ),
            ("space", "/my data", "must not contain whitespace or control characters"),
            ("newline", "/data\nx", "must not contain whitespace or control characters"),
            ("trailing-slash", "/data/", "must not end with /"),
            ("double-slash", "/data//x", "must not contain empty components (//)"),
            ("too-long", "/" + "x" * 4096, "must be at most 4096 bytes"),
        )
    ),
    Case(
        "mount-nested",
        set_("permissions.storage[0].path", "/data/cache"),
        "permissions.storage[0].path: /data/cache and /data (permissions.filesystem[0]) are "
        "inside one another; mounts must not nest",
    ),
    Case(
        "mount-repeated",
        set_("permissions.filesystem[1].path", "/data"),
        "permissions.filesystem[1].path: /data is already mounted by permissions.filesystem[0]; "
        "each path is mounted once",
    ),
    Case(
        "name-repeated-across-filesystem-and-storage",
        set_("permissions.storage[0].name", "data"),
        "permissions.storage[0].name: duplicate name 'data' (first at permissions.filesystem[0]); "
        "names are unique across filesystem and storage",
    ),
    Case(
        "access-unknown",
        set_("permissions.filesystem[0].access", "write"),
        "permissions.filesystem[0].access: must be one of: read, read-write",
    ),
    Case(
        "grant-name-uppercase",
        set_("permissions.filesystem[0].name", "Data"),
        "permissions.filesystem[0].name: must be 1 to 64 lowercase letters, digits, '_' or '-', "
        "starting with a letter or digit",
    ),
    Case(
        "too-many-filesystem-entries",
        set_(
            "permissions.filesystem",
            [{"name": f"d{i}", "path": f"/d{i}", "why": "x"} for i in range(3)],
        ),
        "permissions.filesystem: must have at most 2 entries",
        Limits(permission_entries=2),
    ),
    # --- egress --------------------------------------------------------------
    *(
        Case(
            f"port-{case_id}",
            set_("permissions.network.egress[0].port", port),
            "permissions.network.egress[0].port: must be 1..65535",
        )
        for case_id, port in (("zero", 0), ("65536", 65536), ("true", True), ("text", "443"))
    ),
    *(
        Case(
            f"host-{case_id}",
            set_("permissions.network.egress[0].host", host),
            f"permissions.network.egress[0].host: {message}",
        )
        for case_id, host, message in (
            ("underscore", "api_acme.test", HOST_BAD),
            ("url", "https://api.acme.test", HOST_BAD),
            ("trailing-dot", "api.acme.test.", HOST_BAD),
            ("numeric-tld", "10.0.0.999", HOST_BAD),
            ("uppercase", "API.acme.test", "must be lowercase"),
            (
                "wildcard-tld",
                "*.com",
                "a wildcard needs at least two labels after *. (such as *.acme.test)",
            ),
            ("wildcard-inside", "api.*.test", HOST_BAD),
            (
                "bare-star",
                "*",
                "a bare * allows every host; set dangerouslyAllowAnyHost: true on this entry "
                "if that is what you mean",
            ),
            # The sandbox has no IP route: an address it names leads nowhere.
            ("ipv4-literal", "10.0.0.1", HOST_IP),
            ("ipv4-public-literal", "203.0.113.9", HOST_IP),
            ("ipv6-literal", "2001:db8::1", HOST_IP),
            ("ipv6-long-form", "0:0:0:0:0:0:0:1", HOST_IP),
            ("ipv6-scoped", "fe80::1%eth0", HOST_IP),
            # Forms the C resolver reads as IPv4 (inet_aton): hex, octal, short.
            ("ipv4-hex", "0xa9fea9fe", HOST_IP),
            ("ipv4-hex-parts", "0x7f.0x1", HOST_IP),
            ("ipv4-hex-public", "0x08080808", HOST_IP),
            ("ipv4-octal", "0177.0.0.1", HOST_IP),
            ("ipv4-one-number", "2130706433", HOST_IP),
            ("hex-label", "0x7f.acme.test", HOST_BAD),
            ("digit-label", "127.acme.test", HOST_BAD),
            ("wildcard-over-hex", "*.0x7f.0x1", HOST_BAD),
            ("hex-tld", "acme.0xa", HOST_BAD),
        )
    ),
    *(
        Case(
            f"address-{case_id}",
            set_("permissions.network.egress[0].address", address),
            f"permissions.network.egress[0].address: {message}",
        )
        for case_id, address, message in (
            ("loopback", "127.0.0.1", ADDRESS_PRIVATE.format("loopback")),
            ("metadata", "169.254.169.254", ADDRESS_PRIVATE.format("link-local")),
            ("public", "203.0.114.1", ADDRESS_PRIVATE.format("public")),
            ("multicast", "224.0.0.1", ADDRESS_PRIVATE.format("multicast")),
            ("too-wide", "10.0.0.0/7", ADDRESS_PRIVATE.format("public")),
            ("ipv6-loopback", "::1", ADDRESS_PRIVATE.format("loopback")),
            (
                "host-bits",
                "10.0.12.1/24",
                "must be an IP address (10.0.12.7) or a network (10.0.12.0/24) with no host bits",
            ),
            (
                "name",
                "db.internal",
                "must be an IP address (10.0.12.7) or a network (10.0.12.0/24) with no host bits",
            ),
            ("number", 10, "must be a string"),
        )
    ),
    Case(
        "address-on-any-host",
        lambda doc: doc["permissions"]["network"]["egress"][0].update(
            host="*", dangerouslyAllowAnyHost=True, address="10.0.0.0/8"
        ),
        "permissions.network.egress[0].address: any host (*) cannot have an address; "
        "declare the machines by name",
    ),
    Case(
        "any-host-flag-on-normal-host",
        set_("permissions.network.egress[0].dangerouslyAllowAnyHost", True),
        'permissions.network.egress[0].dangerouslyAllowAnyHost: only allowed with host "*"',
    ),
    Case(
        "egress-repeated",
        set_("permissions.network.egress[1].host", "api.acme.test"),
        "permissions.network.egress[1]: repeats permissions.network.egress[0] (same host and port)",
    ),
    # --- env -----------------------------------------------------------------
    *(
        Case(
            f"env-{case_id}",
            set_("permissions.env[0].name", name),
            f"permissions.env[0].name: {message}",
        )
        for case_id, name, message in (
            (
                "ld-preload",
                "LD_PRELOAD",
                "LD_ variables make the dynamic loader inject code (LD_PRELOAD, "
                "LD_LIBRARY_PATH); they are refused",
            ),
            (
                "path",
                "PATH",
                "PATH decides which programs run and comes from the runtime image; a package "
                "cannot take it from the host",
            ),
            (
                "home",
                "HOME",
                "HOME is set by mppoci inside the sandbox; a package cannot take it from the host",
            ),
            ("mppoci-reserved", "MPPOCI_HOME", "MPPOCI_ names are reserved for mppoci itself"),
            (
                "starts-with-digit",
                "1TOKEN",
                "must be an environment variable name: a letter or _, then letters, digits or _ "
                "(at most 128)",
            ),
        )
    ),
    Case(
        "env-repeated",
        set_(
            "permissions.env",
            [{"name": "TOKEN", "why": "a"}, {"name": "TOKEN", "why": "b"}],
        ),
        "permissions.env[1].name: duplicate name 'TOKEN' (first at permissions.env[0])",
    ),
    Case(
        "env-secret-not-boolean",
        set_("permissions.env[0].secret", "yes please"),
        "permissions.env[0].secret: must be true or false",
    ),
    # --- resources -----------------------------------------------------------
    Case(
        "memory-bad-unit",
        set_("permissions.resources.memory", "256MB"),
        f"permissions.resources.memory: {QUANTITY}",
    ),
    Case(
        "memory-float",
        set_("permissions.resources.memory", 1.5),
        f"permissions.resources.memory: {QUANTITY}",
    ),
    Case(
        "memory-negative",
        set_("permissions.resources.memory", -1),
        f"permissions.resources.memory: {QUANTITY}",
    ),
    Case(
        "memory-over-cap",
        set_("permissions.resources.memory", "65Gi"),
        "permissions.resources.memory: must be between 6Mi and 64Gi",
    ),
    Case(
        "memory-under-floor",
        set_("permissions.resources.memory", 1024),
        "permissions.resources.memory: must be between 6Mi and 64Gi",
    ),
    Case(
        "tmp-zero",
        set_("permissions.resources.tmp", "0"),
        "permissions.resources.tmp: must be between 1Mi and 16Gi",
    ),
    Case(
        "storage-size-over-cap",
        set_("permissions.storage[0].size", "2Ti"),
        "permissions.storage[0].size: must be between 1Mi and 1Ti",
    ),
    Case(
        "timeout-words",
        set_("permissions.resources.timeout", "30 seconds"),
        f"permissions.resources.timeout: {DURATION}",
    ),
    Case(
        "timeout-fraction",
        set_("permissions.resources.timeout", "1.5s"),
        f"permissions.resources.timeout: {DURATION}",
    ),
    Case(
        "timeout-as-number",
        set_("permissions.resources.timeout", 30),
        f"permissions.resources.timeout: {DURATION}",
    ),
    Case(
        "timeout-over-cap",
        set_("permissions.resources.timeout", "25h"),
        "permissions.resources.timeout: must be between 1s and 24h",
    ),
    Case(
        "cpus-four-decimals",
        set_("permissions.resources.cpus", "0.1234"),
        f"permissions.resources.cpus: {CPUS}",
    ),
    Case(
        "cpus-float-four-decimals",
        set_("permissions.resources.cpus", 0.1234),
        f"permissions.resources.cpus: {CPUS}",
    ),
    Case(
        "cpus-negative",
        set_("permissions.resources.cpus", "-1"),
        f"permissions.resources.cpus: {CPUS}",
    ),
    Case(
        "cpus-bool", set_("permissions.resources.cpus", True), f"permissions.resources.cpus: {CPUS}"
    ),
    Case(
        "cpus-too-few",
        set_("permissions.resources.cpus", 0.001),
        "permissions.resources.cpus: must be between 0.01 and 64",
    ),
    Case(
        "cpus-too-many",
        set_("permissions.resources.cpus", 65),
        "permissions.resources.cpus: must be between 0.01 and 64",
    ),
    Case(
        "pids-zero",
        set_("permissions.resources.pids", 0),
        "permissions.resources.pids: must be 1..32768",
    ),
    Case("permissions-null", set_("permissions", None), "permissions: must be a mapping"),
    # --- YAML itself ---------------------------------------------------------
    Case(
        "yaml-timestamp",
        set_("description", datetime.date(2024, 1, 1)),
        "description: is a YAML date/time, which JSON cannot carry; quote it to make it text",
    ),
    Case(
        "yaml-alias-billion-laughs",
        asset("billion-laughs.yaml"),
        "line 3, column 4: YAML anchors and aliases are not allowed (they can expand a small "
        "file into a huge document); write the value out in full",
    ),
    Case(
        "yaml-duplicate-key", asset("duplicate-key.yaml"), "name: duplicate key (first at line 2)"
    ),
    Case(
        "yaml-top-level-list",
        asset("top-level-list.yaml"),
        "the top level must be a mapping of fields (schemaVersion, name, ...)",
    ),
    Case(
        "yaml-top-level-text",
        b"just some text\n",
        "the top level must be a mapping of fields (schemaVersion, name, ...)",
    ),
    Case(
        "yaml-empty",
        b"# nothing here\n",
        "is empty; it must be a mapping of fields (schemaVersion, name, ...)",
    ),
    Case(
        "yaml-oversize",
        b"description: " + b"x" * (256 * 1024),
        f"is {256 * 1024 + 13} bytes; the limit is {256 * 1024} bytes",
    ),
    Case("yaml-too-deep", asset("deep.yaml"), "line 6, column 479: nested deeper than 32 levels"),
    Case(
        "yaml-python-object",
        asset("python-object.yaml"),
        "name: the YAML tag !!python/object/apply:os.system is not allowed (only JSON values are)",
    ),
    Case(
        "yaml-binary",
        asset("binary.yaml"),
        "description: the YAML tag !!binary is not allowed (only JSON values are)",
    ),
    Case(
        "yaml-set",
        asset("set.yaml"),
        "authors: the YAML tag !!set is not allowed (only JSON values are)",
    ),
    Case(
        "yaml-merge-key",
        asset("merge-key.yaml"),
        "permissions.resources: line 4, column 5: YAML merge keys (<<) are not allowed",
    ),
    Case(
        "yaml-boolean-key",
        asset("non-string-key.yaml"),
        "line 2, column 1: YAML reads the key on as a boolean; quote it to make it a string",
    ),
    Case(
        "yaml-multiple-documents",
        asset("multiple-documents.yaml"),
        "line 3, column 1: a manifest is one YAML document; remove this '---'",
    ),
    Case(
        "yaml-syntax-error",
        asset("syntax-error.yaml"),
        "line 4, column 1: invalid YAML: expected the node content, but found '<stream end>'",
    ),
    Case(
        "yaml-control-character",
        b"schemaVersion: 1\ndescription: bell\x07\n",
        "character U+0007 (at character 34) is not allowed in YAML (control characters must be "
        "escaped in a double-quoted string)",
    ),
    Case(
        "runtime-too-long",
        set_("runtime", "ghcr.io/" + "a" * 250 + f"@{DIGEST}"),
        "runtime: must be a runtime name (such as python3) or a registry repository "
        "(such as ghcr.io/acme/python@sha256:<digest>)",
    ),
    Case("not-utf8", asset("not-utf8.yaml"), "is not UTF-8 text (invalid byte at offset 33)"),
    Case(
        "yaml-lone-surrogate",
        b'schemaVersion: 1\ndescription: "\\ud800"\n',
        "description: contains a lone surrogate escape, which has no UTF-8 form",
    ),
    Case(
        "yaml-number-pyyaml-cannot-read",
        b"schemaVersion: 0b_\n",
        "schemaVersion: cannot be read as a number or boolean; quote it if it is text",
    ),
]


def _lines(err: ManifestError) -> list[str]:
    return [f"{path}: {message}" if path else message for path, message in err.problems]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_manifest_is_refused_with_exact_problem(case: Case) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_source(case.data(), limits=case.limits)
    assert case.line in _lines(caught.value)


def test_table_is_big_enough_and_ids_are_unique() -> None:
    assert len(CASES) >= 35
    assert len({c.id for c in CASES}) == len(CASES)


def test_every_problem_is_reported_at_once() -> None:
    doc = copy.deepcopy(GOOD)
    del doc["license"]
    doc["version"] = 1.2
    doc["tools"][1]["name"] = "query"
    doc["permissions"]["network"]["egress"][0]["port"] = 0
    doc["permissions"]["filesystem"][0]["path"] = "/proc/self"
    doc["permissions"]["env"][0]["name"] = "LD_PRELOAD"
    doc["permissions"]["resources"]["memory"] = "1Ti"
    with pytest.raises(ManifestError) as caught:
        parse_source(yaml.safe_dump(doc).encode())
    lines = _lines(caught.value)
    assert "license: is required" in lines
    assert "version: must be a string; quote it" in lines
    assert "tools[1].name: duplicate tool name 'query' (first at tools[0])" in lines
    assert "permissions.network.egress[0].port: must be 1..65535" in lines
    assert any(line.startswith("permissions.filesystem[0].path: /proc") for line in lines)
    assert any(line.startswith("permissions.env[0].name: LD_") for line in lines)
    assert "permissions.resources.memory: must be between 6Mi and 64Gi" in lines
    # The message a user sees names every one of them, and says where the format is.
    text = caught.value.diagnostics()
    assert text.startswith("mpp.yaml is invalid:")
    assert all(line in text for line in lines)
    assert "docs/manifest.md" in text


def test_a_flood_of_unknown_fields_is_summarised() -> None:
    doc = copy.deepcopy(GOOD)
    doc.update({f"junk{i}": i for i in range(500)})
    with pytest.raises(ManifestError) as caught:
        parse_source(yaml.safe_dump(doc).encode())
    assert len(caught.value.problems) == 101
    assert caught.value.problems[-1] == ("", "... and 400 more problems")


def test_future_schema_version_reports_only_that() -> None:
    doc = copy.deepcopy(GOOD)
    doc["schemaVersion"] = 2
    doc["sandboxes"] = ["wasm"]
    with pytest.raises(ManifestError) as caught:
        parse_source(yaml.safe_dump(doc).encode())
    assert [path for path, _ in caught.value.problems] == ["schemaVersion"]


def test_config_with_duplicate_json_key_is_refused() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_config(b'{"name":"acme/a","name":"evil/a"}')
    assert caught.value.problems == [("", 'duplicate key "name" in a JSON object')]


def test_config_with_huge_nesting_is_refused_without_recursion_error() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_config(b"[" * 200_000)
    assert caught.value.problems[0][0] == ""


def test_config_with_nan_or_overflowing_float_is_refused() -> None:
    for text in (b'{"x":NaN}', b'{"x":1e999}'):
        with pytest.raises(ManifestError):
            parse_config(text)


def test_config_oversize_is_refused_before_parsing() -> None:
    data = b'{"description":"' + b"x" * (256 * 1024) + b'"}'
    with pytest.raises(ManifestError) as caught:
        parse_config(data)
    assert caught.value.problems == [("", f"is {len(data)} bytes; the limit is {256 * 1024} bytes")]
