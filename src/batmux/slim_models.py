"""Light stand-ins for the pydantic names the config modules use (chosen by ``batmux.modelkit``).

A slim model knows its fields from the class annotations (all classes of the MRO, in pydantic's
order) and their defaults (a plain value or a ``Field(default=…, default_factory=…)``), fills
the defaults in ``__init__``, is frozen, and validates nothing: ``batmux run`` gets its tree
already validated by a short-lived process with pydantic (``batmux.config_child``) and builds
it from these, so the long-running gateway never loads pydantic. Runtime code may still build
the small models it needs by hand (``BleOptions()``, ``CanBusConfig(interface="virtual")``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

_MISSING: Any = object()


class FieldInfo:
    """What ``Field(...)`` says about a default; its constraints are the validator's business."""

    __slots__ = ("default", "default_factory")

    def __init__(self, default: Any, default_factory: Callable[[], Any] | None) -> None:
        self.default = default
        self.default_factory = default_factory

    def make(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.default_factory is None


def Field(
    default: Any = _MISSING,
    *,
    default_factory: Callable[[], Any] | None = None,
    **constraints: Any,
) -> Any:
    return FieldInfo(_MISSING if default is ... else default, default_factory)


def ConfigDict(**settings: Any) -> dict[str, Any]:
    return dict(settings)


def field_validator(*fields: Any, **options: Any) -> Callable[[Any], Any]:
    """The validator stays an ordinary class attribute; nothing calls it."""
    return _unchanged


def model_validator(*, mode: str) -> Callable[[Any], Any]:
    return _unchanged


def _unchanged(func: Any) -> Any:
    return func


class AfterValidator:
    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func


class ValidationInfo:
    """Only named in validator signatures."""


class ValidationError(ValueError):
    @classmethod
    def from_exception_data(cls, title: str, line_errors: list[Any]) -> ValidationError:
        return cls(title, line_errors)


class PydanticCustomError(ValueError):
    def __init__(self, error_type: str, message: str, context: Any = None) -> None:
        super().__init__(message)
        self.error_type = error_type


def InitErrorDetails(**details: Any) -> dict[str, Any]:
    return details


def _field_infos(cls: type) -> dict[str, FieldInfo]:
    """Field name → default, base classes' fields first (a field redefined by a subclass keeps
    its place and takes the subclass's default), as pydantic orders them."""
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            plain = str(annotation).replace("typing.", "")
            if name.startswith("_") or name == "model_config" or plain.startswith("ClassVar"):
                continue
            names[name] = None
    infos = {}
    for name in names:
        value = next((vars(k)[name] for k in cls.__mro__ if name in vars(k)), _MISSING)
        infos[name] = value if isinstance(value, FieldInfo) else FieldInfo(value, None)
    return infos


class BaseModel:
    """A frozen record with pydantic's runtime surface: ``model_fields_set``, ``model_copy``,
    ``model_dump``, ``model_construct``, equality, hash and repr."""

    __slots__ = ("__dict__", "_fields_set")
    model_config: ClassVar[dict[str, Any]] = {}
    slim_fields: ClassVar[dict[str, FieldInfo]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.slim_fields = _field_infos(cls)

    def __init__(self, **data: Any) -> None:
        unknown = data.keys() - self.slim_fields.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown field(s) {sorted(unknown)}")
        missing = [n for n, f in self.slim_fields.items() if f.required and n not in data]
        if missing:
            raise TypeError(f"{type(self).__name__}: missing field(s) {missing}")
        self._set(self._with_defaults(data), set(data))

    @classmethod
    def _with_defaults(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {
            name: data[name] if name in data else info.make()
            for name, info in cls.slim_fields.items()
            if name in data or not info.required
        }

    def _set(self, values: dict[str, Any], fields_set: set[str]) -> None:
        object.__setattr__(self, "__dict__", values)
        object.__setattr__(self, "_fields_set", fields_set)

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Any:
        """An instance of already-validated values (pydantic's signature), defaults filled."""
        model = cls.__new__(cls)
        model._set(cls._with_defaults(values), set(values) if _fields_set is None else _fields_set)
        return model

    @classmethod
    def model_validate(cls, data: Any) -> Any:
        raise RuntimeError("config validation needs pydantic (batmux.modelkit full mode)")

    @property
    def model_fields_set(self) -> set[str]:
        return self._fields_set

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        update = update or {}
        copy = type(self).__new__(type(self))
        copy._set({**self.__dict__, **update}, self._fields_set | update.keys())
        return copy

    def model_dump(self) -> dict[str, Any]:
        return {name: _dump(value) for name, value in self.__dict__.items()}

    def __setattr__(self, name: str, value: Any) -> None:
        if self.model_config.get("frozen"):
            raise TypeError(f"{type(self).__name__} is frozen")
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        raise TypeError(f"{type(self).__name__}: fields cannot be deleted")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseModel):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        if not self.model_config.get("frozen"):
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return hash(type(self)) + hash(tuple(self.__dict__.values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.__dict__.items())
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:  # copy, deepcopy and pickle; __setattr__ is frozen
        return (_rebuild, (type(self), self.__dict__, self._fields_set))


def _rebuild(cls: type[BaseModel], values: dict[str, Any], fields_set: set[str]) -> BaseModel:
    model = cls.__new__(cls)
    model._set(dict(values), set(fields_set))
    return model


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, list | tuple):
        return type(value)(_dump(v) for v in value)
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value
