"""Where the config modules get their model names: pydantic ("full") or light stand-ins ("slim").

Every config module imports ``BaseModel``, ``Field``, the validator decorators and the error
types from here, never from pydantic. Full mode, the default, hands out pydantic's own objects:
tests, ``check-config``, ``demo`` and the add-on's reader validate exactly as pydantic does.
Slim mode hands out ``batmux.slim_models``: plain frozen records without validation, for the
long-running ``batmux run`` process, whose config was validated by a short-lived full-mode
process (``batmux.config_child``). pydantic and a config's models cost ~13 MiB of resident
memory, over a quarter of the gateway's (issue 17, docs/performance.md).

The mode is fixed by the first name handed out: ``use_slim()`` must come before any config
module is imported, and says False when it comes too late.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the names are, for readers and type checkers
    from pydantic import (
        AfterValidator,
        BaseModel,
        ConfigDict,
        Field,
        ValidationError,
        ValidationInfo,
        field_validator,
        model_validator,
    )
    from pydantic_core import InitErrorDetails, PydanticCustomError

    __all__ = [
        "AfterValidator",
        "BaseModel",
        "ConfigDict",
        "Field",
        "InitErrorDetails",
        "PydanticCustomError",
        "ValidationError",
        "ValidationInfo",
        "field_validator",
        "model_validator",
    ]

FULL_SOURCES = {
    "AfterValidator": "pydantic",
    "BaseModel": "pydantic",
    "ConfigDict": "pydantic",
    "Field": "pydantic",
    "ValidationError": "pydantic",
    "ValidationInfo": "pydantic",
    "field_validator": "pydantic",
    "model_validator": "pydantic",
    "InitErrorDetails": "pydantic_core",
    "PydanticCustomError": "pydantic_core",
}

_slim_wanted = False
_mode: str | None = None  # "full" or "slim" once a name was handed out


def use_slim() -> bool:
    """Hand out the slim stand-ins; False if full names were handed out already."""
    global _slim_wanted
    if _mode == "full":
        return False
    _slim_wanted = True
    return True


def mode() -> str | None:
    """ "full", "slim", or None while no config module has been imported."""
    return _mode


def __getattr__(name: str) -> Any:
    global _mode
    source = FULL_SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _mode is None:
        _mode = "slim" if _slim_wanted else "full"
    if _mode == "slim":
        from batmux import slim_models

        return getattr(slim_models, name)
    return getattr(importlib.import_module(source), name)
