"""The config file's YAML, read strictly: a ``ConfigError`` naming the line, or plain data.

Kept apart from ``batmux.config`` so that the models can be imported without PyYAML (the
running gateway gets its config already read and validated, see ``batmux.config_child``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from batmux.config import MAX_DEPTH
from batmux.errors import ConfigError


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, stricter: a key given twice is an error (PyYAML keeps the last
    one silently), and an integer too long to convert is a located error, not a ValueError."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *defaults" may be overridden by the mapping's own keys
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # unhashable: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {str(key)[:40]!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # more digits than Python converts (4300)
            raise yaml.constructor.ConstructorError(
                None, None, "number too large", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _deep_flow_line(text: str) -> int | None:
    """The line where ``[``/``{`` nesting first goes deeper than ``MAX_DEPTH``, or None.

    PyYAML's scanner takes quadratic time in flow nesting (5,000 ``[`` took 20 s), so this
    linear scan (quoted text and comments skipped) rejects such a file before YAML sees it.
    """
    depth, line, quote, comment, previous = 0, 1, "", False, "\n"
    for char in text:
        if char == "\n":
            line, comment = line + 1, False
        elif comment:
            pass
        elif quote:
            if char == quote and previous != "\\":  # '' inside '…' reopens at once: fine
                quote = ""
                char = " "  # a quote ending here does not escape the next character
        elif char in "'\"" and previous in " \t\n[{,:-?":  # quotes start at a token only
            quote = char
        elif char == "#" and previous in " \t\n":
            comment = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif char in "]}":
            depth = max(0, depth - 1)
        previous = char
    return None


def read_config_data(path: str | Path) -> Any:
    """The YAML file's data, read strictly (duplicate keys, depth, encoding are located errors)."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(file, f"line {line}", "not UTF-8 text") from None
    deep_line = _deep_flow_line(text)
    if deep_line:
        raise ConfigError(file, f"line {deep_line}", f"nested more than {MAX_DEPTH} levels deep")
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        raise ConfigError(file, where, str(getattr(exc, "problem", exc))) from None
    except RecursionError:
        raise ConfigError(file, "YAML", f"nested more than {MAX_DEPTH} levels deep") from None
    return data
