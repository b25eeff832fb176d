"""The JSON Schema drafts a tool's input schema may be written in, named by
its ``$schema``. Pure.

A schema without ``$schema`` is draft 2020-12. Draft-07 is what zod-based
TypeScript MCP servers emit, 2019-09 what some others do; each schema is
checked against its own draft's meta-schema at build, and a call's arguments
are validated under the same draft. Any other ``$schema`` is refused.

A ``$ref`` resolves inside the schema (``#/definitions/...``, a subschema's
``$id``) or to a draft's own meta-schema, never by fetching: jsonschema's
default would retrieve any other URI (``http://``, ``file://``) from the host,
outside the sandbox and on every call. Such a reference is unresolvable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator


@dataclass(frozen=True, slots=True)
class Draft:
    label: str  # how messages name it: "draft 2020-12"
    uri: str  # its meta-schema's URI, as the draft itself writes it


DRAFT_2020_12 = Draft("draft 2020-12", "https://json-schema.org/draft/2020-12/schema")
DRAFT_2019_09 = Draft("draft 2019-09", "https://json-schema.org/draft/2019-09/schema")
DRAFT_07 = Draft("draft-07", "http://json-schema.org/draft-07/schema#")
DRAFTS = (DRAFT_2020_12, DRAFT_2019_09, DRAFT_07)
DEFAULT = DRAFT_2020_12

# Each URI with and without its (empty) fragment: both are in use, and mean the same.
_BY_URI = {
    form: d for d in DRAFTS for base in (d.uri.removesuffix("#"),) for form in (base, base + "#")
}
ACCEPTED_URIS = tuple(sorted(_BY_URI))

UNKNOWN = (
    "must name JSON Schema draft 2020-12 (https://json-schema.org/draft/2020-12/schema), "
    "2019-09 (https://json-schema.org/draft/2019-09/schema) or draft-07 "
    "(http://json-schema.org/draft-07/schema#), or be left out (draft 2020-12)"
)


def draft_of(schema: Mapping[str, Any]) -> Draft | None:
    """The draft ``schema`` is written in, or None when its ``$schema`` names
    no draft accepted here."""
    if "$schema" not in schema:
        return DEFAULT
    uri = schema["$schema"]
    return _BY_URI.get(uri) if isinstance(uri, str) else None


def validator_class(draft: Draft) -> type[Validator]:
    """jsonschema's validator for ``draft`` (imported only when needed: it
    takes longer to import than most commands take to run)."""
    from jsonschema import Draft7Validator, Draft201909Validator, Draft202012Validator

    classes: dict[Draft, type[Validator]] = {
        DRAFT_2020_12: Draft202012Validator,
        DRAFT_2019_09: Draft201909Validator,
        DRAFT_07: Draft7Validator,
    }
    return classes[draft]


def validator_for(schema: Mapping[str, Any]) -> Validator:
    """A validator of instances against ``schema``, under the draft it names,
    that resolves no ``$ref`` by fetching it (its iteration raises
    ``referencing.exceptions.Unresolvable`` for one it cannot resolve).

    Raises:
        ValueError: ``schema`` names no accepted draft (a caller's bug: every
            schema reaching here passed the manifest parser).
    """
    draft = draft_of(schema)
    if draft is None:
        raise ValueError(f"the input schema names an unknown draft: {schema.get('$schema')!r}")
    from referencing import Registry

    # A registry of our own has no retrieve (jsonschema adds the drafts'
    # meta-schemas to it); without one, jsonschema fetches unknown URIs.
    return validator_class(draft)(dict(schema), registry=Registry())
