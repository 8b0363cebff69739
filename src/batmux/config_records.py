"""A validated config tree ⇄ plain records, to hand it from one process to another.

A model becomes ``("model", "module:QualName", {field: record}, [fields set])``; lists, tuples
and dicts become ``("list", [...])``, ``("tuple", (...))``, ``("dict", {key: record})``; None,
bool, int, float and str stay as they are. Records hold builtins only (``marshal`` carries
them), and ``from_record`` builds the models with whatever ``BaseModel`` the config modules got
from ``batmux.modelkit``: pydantic's or the slim stand-ins, without validating again.
"""

from __future__ import annotations

import importlib
from typing import Any

SCALARS = (type(None), bool, int, float, str)


def field_names(cls: type) -> list[str]:
    """The fields of a config model class, pydantic's or slim, in declaration order."""
    fields = getattr(cls, "slim_fields", None)
    if fields is None:
        fields = getattr(cls, "model_fields", None)
    if not isinstance(fields, dict):
        raise TypeError(f"{cls.__name__} is not a config model")
    return list(fields)


def to_record(value: Any) -> Any:
    if type(value) in SCALARS:
        return value
    if type(value) is list:
        return ("list", [to_record(v) for v in value])
    if type(value) is tuple:
        return ("tuple", tuple(to_record(v) for v in value))
    if type(value) is dict:
        if any(type(k) not in SCALARS for k in value):
            raise TypeError(f"dict keys must be plain values: {list(value)!r}")
        return ("dict", {k: to_record(v) for k, v in value.items()})
    cls = type(value)
    fields = {name: to_record(value.__dict__[name]) for name in field_names(cls)}
    path = f"{cls.__module__}:{cls.__qualname__}"
    return ("model", path, fields, sorted(value.model_fields_set))


def from_record(record: Any) -> Any:
    if type(record) is not tuple:
        return record
    kind = record[0]
    if kind == "list":
        return [from_record(v) for v in record[1]]
    if kind == "tuple":
        return tuple(from_record(v) for v in record[1])
    if kind == "dict":
        return {k: from_record(v) for k, v in record[1].items()}
    if kind == "model":
        _, path, fields, fields_set = record
        cls = model_class(path)
        if list(fields) != field_names(cls):
            raise ValueError(f"{path}: fields {list(fields)} differ from {field_names(cls)}")
        values = {name: from_record(v) for name, v in fields.items()}
        return cls.model_construct(_fields_set=set(fields_set), **values)
    raise ValueError(f"not a config record: {kind!r}")


def model_class(path: str) -> type:
    """``batmux.module:Outer.Inner`` → the class (batmux's own modules only)."""
    module, _, qualname = path.partition(":")
    if not module.startswith("batmux."):
        raise ValueError(f"not a batmux config class: {path}")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found
