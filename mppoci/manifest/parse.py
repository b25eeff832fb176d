"""Validating a manifest document into a :class:`Manifest`, reporting every problem.

:func:`parse_source` reads an author's ``mpp.yaml``. :func:`validate` checks a
loaded document (from YAML or from a package's JSON config) against every rule
in docs/manifest.md and collects all problems before raising, so an author
fixes them in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from mppoci.canonical import canonical_json
from mppoci.limits import DEFAULT_LIMITS, Limits
from mppoci.manifest import drafts, rules, units
from mppoci.manifest.load import load_yaml
from mppoci.manifest.model import (
    DEFAULT_RESOURCES,
    SCHEMA_VERSION,
    Access,
    Duration,
    EgressRule,
    EnvVar,
    FilesystemGrant,
    Manifest,
    Permissions,
    Protocol,
    Quantity,
    Resources,
    RuntimeRef,
    StorageVolume,
    Tool,
    ToolAnnotations,
)
from mppoci.manifest.problems import Problems, child, item
from mppoci.text import first_hidden, padding

T = TypeVar("T")

MAX_DESCRIPTION = 4096
MAX_ENTRYPOINT = 256

TOP_FIELDS = (
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
    "permissions",
)
TOOL_FIELDS = ("name", "description", "inputSchema", "annotations", "requiresConfirmation")
ANNOTATION_FIELDS = (
    "title",
    "readOnlyHint",
    "destructiveHint",
    "idempotentHint",
    "openWorldHint",
)
PERMISSION_FIELDS = ("filesystem", "network", "env", "storage", "resources")
FILESYSTEM_FIELDS = ("name", "path", "access", "why", "required")
NETWORK_FIELDS = ("egress",)
EGRESS_FIELDS = ("host", "port", "why", "dangerouslyAllowAnyHost", "address")
ENV_FIELDS = ("name", "why", "secret", "required", "value")
STORAGE_FIELDS = ("name", "path", "size", "why")
RESOURCE_FIELDS = ("memory", "cpus", "pids", "timeout", "tmp")

# (lowest, highest) accepted, in bytes / millicores / milliseconds, and how to say them.
# Docker refuses containers with less than 6 MB of memory.
MEMORY_RANGE = (6 * units.MI, 64 * units.GI, "6Mi", "64Gi")
TMP_RANGE = (1 * units.MI, 16 * units.GI, "1Mi", "16Gi")
STORAGE_RANGE = (1 * units.MI, 1 * units.TI, "1Mi", "1Ti")
CPUS_RANGE = (10, 64_000, "0.01", "64")
TIMEOUT_RANGE = (1_000, 24 * 3_600_000, "1s", "24h")
PIDS_RANGE = (1, 32768)
PORT_RANGE = (1, 65535)

FIXED_VALUE_IS_PUBLIC = (
    "a secret cannot have a value in the manifest: everyone who has the package reads it; "
    "leave value out and have the user pass it with --env"
)
FIXED_VALUE_IS_SET = (
    "a variable with a value is always set (by mppoci, from the manifest); leave required out"
)
NOT_CONFIRMED = (
    "a destructive tool always requires confirmation; if the tool changes nothing, "
    "say so with annotations.readOnlyHint: true or annotations.destructiveHint: false"
)


def parse_source(
    data: bytes, *, limits: Limits = DEFAULT_LIMITS, source: str = "mpp.yaml"
) -> Manifest:
    """The manifest in the YAML text of an ``mpp.yaml``.

    Its runtime may still be an unresolved recipe name (``digest`` None).

    Raises:
        ManifestError: with every problem found, each as (field path, message).
    """
    problems = Problems(source)
    document = load_yaml(data, limits, problems)
    problems.raise_if_any()
    return validate(document, limits=limits, source=source)


def validate(document: Any, *, limits: Limits = DEFAULT_LIMITS, source: str) -> Manifest:
    """The manifest in a loaded document (plain JSON values).

    Raises:
        ManifestError: with every problem found.
    """
    problems = Problems(source)
    manifest = _Reader(problems, limits).manifest(document)
    problems.raise_if_any()
    if manifest is None:  # pragma: no cover - a None always comes with a problem
        raise problems.error()
    return manifest


def _got(value: T | None) -> T:
    # Builders return None only after adding a problem, and construction only
    # happens when none was added; this turns that invariant into a type.
    if value is None:  # pragma: no cover
        raise AssertionError("a checked field has no value")
    return value


def _is_int(value: Any) -> bool:
    # bool is a subclass of int in Python; `port: true` must not mean port 1.
    return isinstance(value, int) and not isinstance(value, bool)


class _Reader:
    """One pass over a document. Every method adds problems and returns None
    for a part it could not read."""

    def __init__(self, problems: Problems, limits: Limits) -> None:
        self.p = problems
        self.limits = limits

    # --- shapes -------------------------------------------------------------

    def mapping(
        self, value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.p.add(path, "must be a mapping")
            return None
        for key in value:
            if key not in allowed:
                self.p.add(child(path, key), f"unknown field (allowed here: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.p.add(child(path, key), "is required")
        return value

    def field(
        self,
        obj: dict[str, Any],
        key: str,
        path: str,
        read: Callable[[Any, str], T | None],
        default: T | None = None,
    ) -> T | None:
        """``read`` applied to ``obj[key]``, or ``default`` when the key is absent
        (a missing required key was already reported by :meth:`mapping`)."""
        if key not in obj:
            return default
        return read(obj[key], child(path, key))

    def text(
        self, value: Any, path: str, *, max_chars: int | None = None, multiline: bool = False
    ) -> str | None:
        """A string with something in it besides whitespace, and nothing a
        terminal would obey or hide (a newline and tab only when ``multiline``)."""
        if not isinstance(value, str):
            self.p.add(path, "must be a string")
            return None
        if not value.strip():
            self.p.add(path, "must not be empty")
            return None
        if max_chars is not None and len(value) > max_chars:
            self.p.add(path, f"must be at most {max_chars} characters")
            return None
        hidden = first_hidden(value, multiline=multiline)
        if hidden is not None:
            index, shown = hidden
            allowed = "" if multiline else "; this field is one line, without newlines or tabs"
            self.p.add(
                path,
                f"must not contain control or invisible characters (found {shown} at "
                f"character {index + 1}): they can rewrite or hide what people are shown{allowed}",
            )
            return None
        blanks = None if multiline else padding(value)
        if blanks is not None:
            self.p.add(path, f"{blanks}; this field is one line of text")
            return None
        return value

    def description(self, value: Any, path: str) -> str | None:
        """One line of text shown to people (``why``, a title)."""
        return self.text(value, path, max_chars=MAX_DESCRIPTION)

    def free_text(self, value: Any, path: str) -> str | None:
        """Prose that may span lines (a package's or tool's description)."""
        return self.text(value, path, max_chars=MAX_DESCRIPTION, multiline=True)

    def flag(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.p.add(path, "must be true or false")
            return None
        return value

    def items(
        self, value: Any, path: str, *, max_items: int, min_items: int = 0
    ) -> list[Any] | None:
        if not isinstance(value, list):
            self.p.add(path, "must be a list")
            return None
        if len(value) < min_items:
            self.p.add(path, "must not be empty" if min_items == 1 else f"needs {min_items} items")
            return None
        if len(value) > max_items:
            self.p.add(path, f"must have at most {max_items} entries")
            return None
        return value

    def ranged_int(self, value: Any, path: str, bounds: tuple[int, int]) -> int | None:
        low, high = bounds
        if not _is_int(value) or not low <= value <= high:
            self.p.add(path, f"must be {low}..{high}")
            return None
        return int(value)

    # --- the top level ------------------------------------------------------

    def manifest(self, document: Any) -> Manifest | None:
        if not isinstance(document, dict):
            self.p.add("", "the top level must be a mapping of fields (schemaVersion, name, ...)")
            return None
        version = document.get("schemaVersion")
        if _is_int(version) and version != SCHEMA_VERSION:
            # A newer format may add fields; listing them as unknown would only
            # bury the one thing to do.
            self.p.add(
                "schemaVersion",
                f"{version} is not supported by this mppoci (supports {SCHEMA_VERSION}); "
                "upgrade mppoci to read this package",
            )
            return None
        start = self.p.mark()
        doc = self.mapping(document, "", TOP_FIELDS, required=TOP_FIELDS[:-1])
        if doc is None:  # pragma: no cover - checked above
            return None
        schema_version = self.field(doc, "schemaVersion", "", self.schema_version)
        name = self.field(doc, "name", "", self.package_name)
        semver = self.field(doc, "version", "", self.version)
        description = self.field(doc, "description", "", self.free_text)
        authors = self.field(doc, "authors", "", self.authors)
        license_ = self.field(doc, "license", "", self.license)
        runtime = self.field(doc, "runtime", "", self.runtime)
        entrypoint = self.field(doc, "entrypoint", "", self.entrypoint)
        protocol = self.field(doc, "protocol", "", self.protocol)
        tools = self.field(doc, "tools", "", self.tools)
        permissions = self.field(doc, "permissions", "", self.permissions, Permissions())
        if self.p.since(start):
            return None
        return Manifest(
            schema_version=_got(schema_version),
            name=_got(name),
            version=_got(semver),
            description=_got(description),
            authors=_got(authors),
            license=_got(license_),
            runtime=_got(runtime),
            entrypoint=_got(entrypoint),
            protocol=_got(protocol),
            tools=_got(tools),
            permissions=_got(permissions),
        )

    def schema_version(self, value: Any, path: str) -> int | None:
        if not _is_int(value):
            self.p.add(path, f"must be the integer {SCHEMA_VERSION}")
            return None
        return int(value)

    def package_name(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.p.add(path, "must be a string")
            return None
        if len(value) > rules.MAX_PACKAGE_NAME:
            self.p.add(path, f"must be at most {rules.MAX_PACKAGE_NAME} characters")
            return None
        if not rules.PACKAGE_NAME.fullmatch(value):
            self.p.add(
                path,
                "must be publisher/tool, each part lowercase letters and digits, "
                "separated inside by single '.', '_' or '-' (such as acme/csv-query)",
            )
            return None
        return value

    def version(self, value: Any, path: str) -> str | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # YAML reads `version: 1.2` as a float and would drop "1.20"'s zero.
            self.p.add(path, "must be a string; quote it")
            return None
        if not isinstance(value, str):
            self.p.add(path, "must be a string")
            return None
        if len(value) > rules.MAX_VERSION or not rules.SEMVER.fullmatch(value):
            self.p.add(path, "must be a SemVer 2.0 version such as 1.2.0")
            return None
        return value

    def authors(self, value: Any, path: str) -> tuple[str, ...] | None:
        entries = self.items(value, path, max_items=self.limits.permission_entries, min_items=1)
        if entries is None:
            return None
        start = self.p.mark()
        out = [self.text(v, item(path, i)) for i, v in enumerate(entries)]
        return None if self.p.since(start) else tuple(_got(a) for a in out)

    def license(self, value: Any, path: str) -> str | None:
        text = self.text(value, path, max_chars=256)
        if text is None:
            return None
        if not rules.LICENSE.fullmatch(text):
            self.p.add(
                path,
                "must be an SPDX license expression (letters, digits, spaces and . + - ( ))",
            )
            return None
        return text

    def runtime(self, value: Any, path: str) -> RuntimeRef | None:
        if not isinstance(value, str):
            self.p.add(path, "must be a string")
            return None
        ref = rules.parse_runtime(value)
        if isinstance(ref, str):
            self.p.add(path, ref)
            return None
        return ref

    def entrypoint(self, value: Any, path: str) -> tuple[str, ...] | None:
        entries = self.items(value, path, max_items=MAX_ENTRYPOINT, min_items=1)
        if entries is None:
            return None
        start = self.p.mark()
        for i, arg in enumerate(entries):
            if not isinstance(arg, str):
                self.p.add(item(path, i), "must be a string")
            elif not arg:
                self.p.add(item(path, i), "must not be empty")
            elif "\0" in arg:
                self.p.add(item(path, i), "must not contain NUL")
            elif (hidden := first_hidden(arg)) is not None:
                # Shown by `policy show` and `inspect`: a newline here would
                # print a line mppoci did not write.
                self.p.add(
                    item(path, i),
                    f"must not contain newlines, control or invisible characters (found "
                    f"{hidden[1]} at character {hidden[0] + 1}): they can fake what people "
                    "are shown",
                )
        return None if self.p.since(start) else tuple(entries)

    def protocol(self, value: Any, path: str) -> Protocol | None:
        if not isinstance(value, str) or value not in set(Protocol):
            self.p.add(path, f"must be one of: {', '.join(Protocol)}")
            return None
        return Protocol(value)

    # --- tools --------------------------------------------------------------

    def tools(self, value: Any, path: str) -> tuple[Tool, ...] | None:
        entries = self.items(value, path, max_items=self.limits.tools, min_items=1)
        if entries is None:
            return None
        start = self.p.mark()
        tools = [self.tool(v, item(path, i)) for i, v in enumerate(entries)]
        first: dict[str, str] = {}
        for i, tool in enumerate(tools):
            if tool is None:
                continue
            here = item(path, i)
            if tool.name in first:
                self.p.add(
                    child(here, "name"),
                    f"duplicate tool name {tool.name!r} (first at {first[tool.name]})",
                )
            else:
                first[tool.name] = here
        return None if self.p.since(start) else tuple(_got(t) for t in tools)

    def tool(self, value: Any, path: str) -> Tool | None:
        start = self.p.mark()
        obj = self.mapping(value, path, TOOL_FIELDS, required=("name", "description"))
        if obj is None:
            return None
        name = self.field(obj, "name", path, self.tool_name)
        description = self.field(obj, "description", path, self.free_text)
        schema = self.field(obj, "inputSchema", path, self.input_schema, {"type": "object"})
        annotations = self.field(obj, "annotations", path, self.annotations, ToolAnnotations())
        confirm = self.field(obj, "requiresConfirmation", path, self.flag)
        if self.p.since(start):
            return None
        annotations = _got(annotations)
        if confirm is None:
            confirm = annotations.destructive
        elif not confirm and annotations.destructive:
            self.p.add(child(path, "requiresConfirmation"), NOT_CONFIRMED)
            return None
        return Tool(
            name=_got(name),
            description=_got(description),
            input_schema_json=canonical_json(_got(schema)).decode("utf-8"),
            annotations=annotations,
            requires_confirmation=confirm,
        )

    def tool_name(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not rules.TOOL_NAME.fullmatch(value):
            self.p.add(path, "must be 1 to 64 letters, digits, '_' or '-'")
            return None
        return value

    def input_schema(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.p.add(path, "must be a mapping (a JSON Schema)")
            return None
        start = self.p.mark()
        if value.get("type") != "object":
            self.p.add(child(path, "type"), 'must be "object" (a tool takes named arguments)')
        draft = drafts.draft_of(value)
        if draft is None:
            self.p.add(child(path, "$schema"), drafts.UNKNOWN)
        self.schema_text(value, path)
        if self.p.since(start) or draft is None:
            return None
        # Imported here: jsonschema takes longer to import than most commands
        # take to run, and only tools with an input schema need it.
        from jsonschema.exceptions import SchemaError

        try:
            drafts.validator_class(draft).check_schema(value)
        except SchemaError as e:
            where = path
            for part in e.path:
                where = item(where, part) if isinstance(part, int) else child(where, str(part))
            self.p.add(where, f"is not valid JSON Schema ({draft.label}): {e.message}")
            return None
        return value

    def schema_text(self, value: Any, path: str) -> None:
        """Every key and string in an input schema is shown to people by MCP
        clients (titles, descriptions, enum values): the same characters are
        refused as in the manifest's own text. Only free text may span lines."""
        if isinstance(value, dict):
            for key, sub in value.items():
                here = child(path, str(key))
                hidden = first_hidden(str(key))
                if hidden is not None:
                    self.p.add(
                        here, f"the key contains a control or invisible character {hidden[1]}"
                    )
                if isinstance(sub, str):
                    if first_hidden(sub, multiline=key in ("description", "$comment")) is not None:
                        self.text(sub, here, multiline=key in ("description", "$comment"))
                else:
                    self.schema_text(sub, here)
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                if isinstance(sub, str):
                    if first_hidden(sub) is not None:
                        self.text(sub, item(path, i))
                else:
                    self.schema_text(sub, item(path, i))

    def annotations(self, value: Any, path: str) -> ToolAnnotations | None:
        start = self.p.mark()
        obj = self.mapping(value, path, ANNOTATION_FIELDS)
        if obj is None:
            return None
        defaults = ToolAnnotations()
        title = self.field(obj, "title", path, self.description)
        read_only = self.field(obj, "readOnlyHint", path, self.flag, defaults.read_only_hint)
        destructive = self.field(obj, "destructiveHint", path, self.flag, defaults.destructive_hint)
        idempotent = self.field(obj, "idempotentHint", path, self.flag, defaults.idempotent_hint)
        open_world = self.field(obj, "openWorldHint", path, self.flag, defaults.open_world_hint)
        if self.p.since(start):
            return None
        return ToolAnnotations(
            title=title,
            read_only_hint=_got(read_only),
            destructive_hint=_got(destructive),
            idempotent_hint=_got(idempotent),
            open_world_hint=_got(open_world),
        )

    # --- permissions --------------------------------------------------------

    def permissions(self, value: Any, path: str) -> Permissions | None:
        start = self.p.mark()
        obj = self.mapping(value, path, PERMISSION_FIELDS)
        if obj is None:
            return None
        none = Permissions()
        filesystem = self.field(obj, "filesystem", path, self.filesystem, none.filesystem)
        egress = self.field(obj, "network", path, self.network, none.egress)
        env = self.field(obj, "env", path, self.env, none.env)
        storage = self.field(obj, "storage", path, self.storage, none.storage)
        resources = self.field(obj, "resources", path, self.resources, DEFAULT_RESOURCES)
        if self.p.since(start):
            return None
        self.check_mounts(path, _got(filesystem), _got(storage))
        if self.p.since(start):
            return None
        # The lists are sets; sorting makes the config and the permission
        # digest independent of the order the author wrote them in.
        return Permissions(
            filesystem=tuple(sorted(_got(filesystem), key=lambda g: g.name)),
            egress=tuple(sorted(_got(egress), key=lambda r: (r.host, r.port))),
            env=tuple(sorted(_got(env), key=lambda e: e.name)),
            storage=tuple(sorted(_got(storage), key=lambda s: s.name)),
            resources=_got(resources),
        )

    def entries(
        self, value: Any, path: str, read: Callable[[Any, str], T | None]
    ) -> list[T] | None:
        entries = self.items(value, path, max_items=self.limits.permission_entries)
        if entries is None:
            return None
        start = self.p.mark()
        out = [read(v, item(path, i)) for i, v in enumerate(entries)]
        return None if self.p.since(start) else [_got(v) for v in out]

    def grant_name(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not rules.GRANT_NAME.fullmatch(value):
            self.p.add(
                path,
                "must be 1 to 64 lowercase letters, digits, '_' or '-', "
                "starting with a letter or digit",
            )
            return None
        return value

    def container_path(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.p.add(path, "must be a string")
            return None
        problem = rules.container_path_problem(value, max_bytes=self.limits.path_bytes)
        if problem is not None:
            self.p.add(path, problem)
            return None
        return value

    def filesystem(self, value: Any, path: str) -> tuple[FilesystemGrant, ...] | None:
        grants = self.entries(value, path, self.filesystem_grant)
        return None if grants is None else tuple(grants)

    def filesystem_grant(self, value: Any, path: str) -> FilesystemGrant | None:
        start = self.p.mark()
        obj = self.mapping(value, path, FILESYSTEM_FIELDS, required=("name", "path", "why"))
        if obj is None:
            return None
        name = self.field(obj, "name", path, self.grant_name)
        mount = self.field(obj, "path", path, self.container_path)
        access = self.field(obj, "access", path, self.access, Access.READ)
        why = self.field(obj, "why", path, self.description)
        required = self.field(obj, "required", path, self.flag, False)
        if self.p.since(start):
            return None
        return FilesystemGrant(
            name=_got(name),
            path=_got(mount),
            access=_got(access),
            why=_got(why),
            required=_got(required),
        )

    def access(self, value: Any, path: str) -> Access | None:
        if not isinstance(value, str) or value not in set(Access):
            self.p.add(path, f"must be one of: {', '.join(Access)}")
            return None
        return Access(value)

    def network(self, value: Any, path: str) -> tuple[EgressRule, ...] | None:
        obj = self.mapping(value, path, NETWORK_FIELDS)
        if obj is None:
            return None
        return self.field(obj, "egress", path, self.egress, Permissions().egress)

    def egress(self, value: Any, path: str) -> tuple[EgressRule, ...] | None:
        rules_ = self.entries(value, path, self.egress_rule)
        if rules_ is None:
            return None
        first: dict[tuple[str, int], str] = {}
        for i, rule in enumerate(rules_):
            key = (rule.host, rule.port)
            if key in first:
                self.p.add(item(path, i), f"repeats {first[key]} (same host and port)")
                return None
            first[key] = item(path, i)
        return tuple(rules_)

    def egress_rule(self, value: Any, path: str) -> EgressRule | None:
        start = self.p.mark()
        obj = self.mapping(value, path, EGRESS_FIELDS, required=("host", "port", "why"))
        if obj is None:
            return None
        any_host = self.field(obj, "dangerouslyAllowAnyHost", path, self.flag, False)
        host = self.field(obj, "host", path, self.host)
        port = self.field(obj, "port", path, lambda v, p: self.ranged_int(v, p, PORT_RANGE))
        why = self.field(obj, "why", path, self.description)
        address = self.field(obj, "address", path, self.private_address, None)
        if address is not None and host == "*":
            self.p.add(child(path, "address"), rules.ADDRESS_WITH_WILDCARD)
        if host == "*" and any_host is False:
            self.p.add(child(path, "host"), rules.HOST_ANY_WITHOUT_FLAG)
        if any_host and host is not None and host != "*":
            self.p.add(child(path, "dangerouslyAllowAnyHost"), 'only allowed with host "*"')
        if self.p.since(start):
            return None
        return EgressRule(
            host=_got(host),
            port=_got(port),
            why=_got(why),
            dangerously_allow_any_host=_got(any_host),
            address=address,
        )

    def private_address(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.p.add(path, "must be a string")
            return None
        problem = rules.address_problem(value)
        if problem is not None:
            self.p.add(path, problem)
            return None
        return value

    def host(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.p.add(path, "must be a string")
            return None
        problem = rules.host_problem(value)
        if problem is not None:
            self.p.add(path, problem)
            return None
        return value

    def env(self, value: Any, path: str) -> tuple[EnvVar, ...] | None:
        variables = self.entries(value, path, self.env_var)
        if variables is None:
            return None
        first: dict[str, str] = {}
        for i, var in enumerate(variables):
            if var.name in first:
                self.p.add(
                    child(item(path, i), "name"),
                    f"duplicate name {var.name!r} (first at {first[var.name]})",
                )
                return None
            first[var.name] = item(path, i)
        return tuple(variables)

    def env_var(self, value: Any, path: str) -> EnvVar | None:
        start = self.p.mark()
        obj = self.mapping(value, path, ENV_FIELDS, required=("name", "why"))
        if obj is None:
            return None
        name = self.field(obj, "name", path, self.env_name)
        why = self.field(obj, "why", path, self.description)
        secret = self.field(obj, "secret", path, self.flag, False)
        required = self.field(obj, "required", path, self.flag, False)
        # One line of text like every other: shown at approval, and by `policy show`.
        fixed = self.field(obj, "value", path, self.description)
        if fixed is not None and secret:
            self.p.add(child(path, "value"), FIXED_VALUE_IS_PUBLIC)
        if fixed is not None and required:
            self.p.add(child(path, "required"), FIXED_VALUE_IS_SET)
        if self.p.since(start):
            return None
        return EnvVar(_got(name), _got(why), _got(secret), _got(required), fixed)

    def env_name(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.p.add(path, "must be a string")
            return None
        problem = rules.env_name_problem(value)
        if problem is not None:
            self.p.add(path, problem)
            return None
        return value

    def storage(self, value: Any, path: str) -> tuple[StorageVolume, ...] | None:
        volumes = self.entries(value, path, self.storage_volume)
        return None if volumes is None else tuple(volumes)

    def storage_volume(self, value: Any, path: str) -> StorageVolume | None:
        start = self.p.mark()
        obj = self.mapping(value, path, STORAGE_FIELDS, required=STORAGE_FIELDS)
        if obj is None:
            return None
        name = self.field(obj, "name", path, self.grant_name)
        mount = self.field(obj, "path", path, self.container_path)
        size = self.field(obj, "size", path, lambda v, p: self.quantity(v, p, STORAGE_RANGE))
        why = self.field(obj, "why", path, self.description)
        if self.p.since(start):
            return None
        return StorageVolume(name=_got(name), path=_got(mount), size=_got(size), why=_got(why))

    def check_mounts(
        self,
        path: str,
        filesystem: tuple[FilesystemGrant, ...],
        storage: tuple[StorageVolume, ...],
    ) -> None:
        """Names unique and mount paths neither repeated nor nested, across both lists."""
        mounts = [
            (item(child(path, "filesystem"), i), g.name, g.path) for i, g in enumerate(filesystem)
        ]
        mounts += [(item(child(path, "storage"), i), v.name, v.path) for i, v in enumerate(storage)]
        for n, (where, name, mount) in enumerate(mounts):
            for earlier, earlier_name, earlier_mount in mounts[:n]:
                if name == earlier_name:
                    self.p.add(
                        child(where, "name"),
                        f"duplicate name {name!r} (first at {earlier}); names are unique "
                        "across filesystem and storage",
                    )
                if mount == earlier_mount:
                    self.p.add(
                        child(where, "path"),
                        f"{mount} is already mounted by {earlier}; each path is mounted once",
                    )
                elif rules.nests(earlier_mount, mount) or rules.nests(mount, earlier_mount):
                    self.p.add(
                        child(where, "path"),
                        f"{mount} and {earlier_mount} ({earlier}) are inside one another; "
                        "mounts must not nest",
                    )

    # --- resources ----------------------------------------------------------

    def resources(self, value: Any, path: str) -> Resources | None:
        start = self.p.mark()
        obj = self.mapping(value, path, RESOURCE_FIELDS)
        if obj is None:
            return None
        d = DEFAULT_RESOURCES
        memory = self.field(
            obj, "memory", path, lambda v, p: self.quantity(v, p, MEMORY_RANGE), d.memory
        )
        millicores = self.field(obj, "cpus", path, self.cpus, d.millicores)
        pids = self.field(obj, "pids", path, lambda v, p: self.ranged_int(v, p, PIDS_RANGE), d.pids)
        timeout = self.field(obj, "timeout", path, self.timeout, d.timeout)
        tmp = self.field(obj, "tmp", path, lambda v, p: self.quantity(v, p, TMP_RANGE), d.tmp)
        if self.p.since(start):
            return None
        return Resources(
            memory=_got(memory),
            millicores=_got(millicores),
            pids=_got(pids),
            timeout=_got(timeout),
            tmp=_got(tmp),
        )

    def quantity(self, value: Any, path: str, bounds: tuple[int, int, str, str]) -> Quantity | None:
        low, high, low_text, high_text = bounds
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.p.add(path, f"must be {units.QUANTITY_HELP}")
            return None
        try:
            count = units.parse_quantity(value)
        except units.UnitError as e:
            self.p.add(path, str(e))
            return None
        if not low <= count <= high:
            self.p.add(path, f"must be between {low_text} and {high_text}")
            return None
        return Quantity(str(value), count)

    def cpus(self, value: Any, path: str) -> int | None:
        low, high, low_text, high_text = CPUS_RANGE
        try:
            millicores = units.parse_cpus(value)
        except units.UnitError as e:
            self.p.add(path, str(e))
            return None
        if not low <= millicores <= high:
            self.p.add(path, f"must be between {low_text} and {high_text}")
            return None
        return millicores

    def timeout(self, value: Any, path: str) -> Duration | None:
        low, high, low_text, high_text = TIMEOUT_RANGE
        try:
            milliseconds = units.parse_duration(value)
        except units.UnitError as e:
            self.p.add(path, str(e))
            return None
        if not low <= milliseconds <= high:
            self.p.add(path, f"must be between {low_text} and {high_text}")
            return None
        return Duration(value, milliseconds)
