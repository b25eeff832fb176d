"""Turning manifest bytes into plain JSON values, refusing what JSON cannot say.

YAML is read with a SafeLoader subclass that refuses anchors and aliases
(billion laughs), merge keys, duplicate keys, non-string keys and every tag
beyond JSON's types (timestamps, binary, sets, Python objects), and caps the
nesting depth while composing. JSON is read with duplicate keys refused. Every
failure is added to a :class:`Problems`; nothing here raises anything else.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml
from yaml.error import Mark, MarkedYAMLError
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from mppoci.limits import Limits
from mppoci.manifest.problems import Problems, child, item
from mppoci.text import terminal_safe

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _MERGE = _TAG + "map", _TAG + "seq", _TAG + "merge"


def _where(mark: Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _kind(tag: str) -> str:
    kinds = {_BOOL: "a boolean", _INT: "a number", _FLOAT: "a number", _NULL: "null"}
    return kinds.get(tag, _short_tag(tag))


def _tag_refused(tag: str) -> str:
    # The tag is the file's text (URI escapes such as %0A decoded): one line.
    return f"the YAML tag {terminal_safe(_short_tag(tag))} is not allowed (only JSON values are)"


class _RefusedError(MarkedYAMLError):
    """Something our loader refuses on purpose while composing."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases and caps nesting while composing.

    Only composition is used (no constructors run on whole nodes), so nothing
    in the file can make Python objects, and an alias never gets expanded.
    """

    def __init__(self, text: str, max_depth: int) -> None:
        super().__init__(text)
        self._max_depth = max_depth
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _RefusedError(
                problem="YAML anchors and aliases are not allowed (they can expand a small "
                "file into a huge document); write the value out in full",
                problem_mark=event.start_mark,
            )
        opens = isinstance(event, (MappingStartEvent, SequenceStartEvent))
        if opens:
            self._depth += 1
            if self._depth > self._max_depth:
                raise _RefusedError(
                    problem=f"nested deeper than {self._max_depth} levels",
                    problem_mark=event.start_mark,
                )
        try:
            return super().compose_node(parent, index)
        finally:
            if opens:
                self._depth -= 1


# YAML 1.1 (PyYAML) reads 1e5 as text: its floats need a "." and a signed
# exponent. JSON and YAML 1.2 read a number; so do we, so that JSON written as
# YAML, and `maximum: 1e6` in an input schema, mean what they say.
_StrictLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def check_size(data: bytes, limits: Limits, problems: Problems) -> bool:
    if len(data) > limits.manifest_bytes:
        problems.add("", f"is {len(data)} bytes; the limit is {limits.manifest_bytes} bytes")
        return False
    return True


def _decode(data: bytes, problems: Problems) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        problems.add("", f"is not UTF-8 text (invalid byte at offset {e.start})")
        return None


def load_yaml(data: bytes, limits: Limits, problems: Problems) -> Any:
    """The JSON value in YAML ``data``, or None with problems added."""
    if not check_size(data, limits, problems):
        return None
    text = _decode(data, problems)
    if text is None:
        return None
    loader: _StrictLoader | None = None
    try:
        # The constructor already reads the text (and refuses control characters).
        loader = _StrictLoader(text, limits.manifest_depth)
        node = loader.get_single_node()
    except _RefusedError as e:
        problems.add("", f"{_where(e.problem_mark)}: {e.problem}")
        return None
    except MarkedYAMLError as e:
        if e.context and "single document" in e.context:
            problems.add(
                "", f"{_where(e.problem_mark)}: a manifest is one YAML document; remove this '---'"
            )
        else:
            problems.add("", f"{_where(e.problem_mark)}: invalid YAML: {e.problem}")
        return None
    except ReaderError as e:
        problems.add(
            "",
            f"character U+{e.character:04X} (at character {e.position}) is not allowed in YAML "
            "(control characters must be escaped in a double-quoted string)",
        )
        return None
    except (
        yaml.YAMLError
    ) as e:  # pragma: no cover - every YAMLError PyYAML raises is one of the above
        problems.add("", f"invalid YAML: {e}")
        return None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        problems.add("", "is empty; it must be a mapping of fields (schemaVersion, name, ...)")
        return None
    return _value(loader, node, "", problems)


_LONE_SURROGATE = "contains a lone surrogate escape, which has no UTF-8 form"


def _string_ok(text: str, path: str, problems: Problems) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A "\ud800" escape: valid in YAML and JSON syntax, but no UTF-8 for it.
        problems.add(path, _LONE_SURROGATE)
        return False
    return True


def _yaml_string(text: str, path: str, problems: Problems) -> str | None:
    """``text`` with escaped surrogate pairs joined, or None if one is alone.

    PyYAML decodes the escapes ``"\\ud83d\\ude00"`` as two lone surrogates where
    JSON reads one emoji; joining them keeps JSON written as YAML meaning the same.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        except UnicodeDecodeError:
            problems.add(path, _LONE_SURROGATE)
            return None
    return text


def _value(loader: _StrictLoader, node: Node, path: str, problems: Problems) -> Any:
    if isinstance(node, ScalarNode):
        return _scalar(loader, node, path, problems)
    if isinstance(node, SequenceNode):
        if node.tag != _SEQ:
            problems.add(path, _tag_refused(node.tag))
            return None
        return [_value(loader, n, item(path, i), problems) for i, n in enumerate(node.value)]
    if isinstance(node, MappingNode):
        return _mapping(loader, node, path, problems)
    problems.add(path, "is not a YAML value we can read")
    return None


def _mapping(loader: _StrictLoader, node: MappingNode, path: str, problems: Problems) -> Any:
    if node.tag != _MAP:
        problems.add(path, _tag_refused(node.tag))
        return None
    out: dict[str, Any] = {}
    first_line: dict[str, int] = {}
    for key_node, value_node in node.value:
        where = _where(key_node.start_mark)
        if key_node.tag == _MERGE:
            problems.add(path, f"{where}: YAML merge keys (<<) are not allowed")
            continue
        if not isinstance(key_node, ScalarNode):
            problems.add(path, f"{where}: a key must be a string, not a list or mapping")
            continue
        if key_node.tag != _STR:
            # YAML 1.1 reads `on`, `yes`, `1` or `null` as non-strings, even as keys.
            problems.add(
                path,
                f"{where}: YAML reads the key {key_node.value} as {_kind(key_node.tag)}; "
                "quote it to make it a string",
            )
            continue
        key = _yaml_string(str(key_node.value), path, problems)
        if key is None:
            continue
        key_path = child(path, key)
        line = key_node.start_mark.line + 1 if key_node.start_mark else 0
        if key in first_line:
            problems.add(key_path, f"duplicate key (first at line {first_line[key]})")
            continue
        first_line[key] = line
        out[key] = _value(loader, value_node, key_path, problems)
    return out


def _scalar(loader: _StrictLoader, node: ScalarNode, path: str, problems: Problems) -> Any:
    tag = node.tag
    if tag == _STR:
        return _yaml_string(str(node.value), path, problems)
    if tag == _NULL:
        return None
    if tag == _TAG + "timestamp":
        problems.add(path, "is a YAML date/time, which JSON cannot carry; quote it to make it text")
        return None
    if tag not in (_INT, _FLOAT, _BOOL):
        problems.add(path, _tag_refused(tag))
        return None
    try:
        if tag == _BOOL:
            return loader.construct_yaml_bool(node)
        if tag == _INT:
            return loader.construct_yaml_int(node)
        number = loader.construct_yaml_float(node)
    except (ValueError, KeyError):
        # PyYAML's own resolvers pass "0b_" or "._" on to int()/float(), and an
        # explicit !!bool can carry any text.
        problems.add(path, "cannot be read as a number or boolean; quote it if it is text")
        return None
    if not math.isfinite(number):
        problems.add(path, "must be a finite number (JSON has no NaN or infinity)")
        return None
    return number


class _DuplicateKeyError(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(data: bytes, limits: Limits, problems: Problems) -> Any:
    """The JSON value in ``data``, or None with problems added."""
    if not check_size(data, limits, problems):
        return None
    text = _decode(data, problems)
    if text is None:
        return None
    try:
        value = json.loads(
            text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant
        )
    except _DuplicateKeyError as e:
        problems.add("", f"duplicate key {json.dumps(str(e))} in a JSON object")
        return None
    except json.JSONDecodeError as e:
        problems.add("", f"line {e.lineno}, column {e.colno}: invalid JSON: {e.msg}")
        return None
    except RecursionError:
        problems.add("", f"nested deeper than {limits.manifest_depth} levels")
        return None
    except ValueError as e:
        # NaN/Infinity, or an integer longer than Python reads from text.
        problems.add("", f"invalid JSON: {e}")
        return None
    mark = problems.mark()
    _check_json(value, "", 1, limits.manifest_depth, problems)
    return None if problems.since(mark) else value


def _check_json(value: Any, path: str, depth: int, max_depth: int, problems: Problems) -> None:
    """What json.loads lets through that the manifest may not hold."""
    if isinstance(value, dict | list) and depth > max_depth:
        problems.add(path, f"nested deeper than {max_depth} levels")
        return
    if isinstance(value, dict):
        for key, v in value.items():
            if _string_ok(key, path, problems):
                _check_json(v, child(path, key), depth + 1, max_depth, problems)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_json(v, item(path, i), depth + 1, max_depth, problems)
    elif isinstance(value, str):
        _string_ok(value, path, problems)
    elif isinstance(value, float) and not math.isfinite(value):
        # "1e999" parses to infinity without ever calling parse_constant.
        problems.add(path, "must be a finite number (JSON has no NaN or infinity)")
