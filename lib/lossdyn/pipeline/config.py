"""Typed, validated experiment configs shared by notebooks, the CLI and the tests.

Each notebook has exactly one frozen dataclass, the ``Config`` (a subclass of
:class:`ExperimentConfig`) of its figure module (:mod:`lossdyn.pipeline.figures`), whose name is
the notebook's name; the class reads its notebook name from there. The notebook's ``parameters`` cell holds the
quick-profile defaults, one typed and commented line per field; the paper profile is
``params/paper/<notebook>.yml``. Every way in (notebook, ``python -m lossdyn``, tests)
goes through :meth:`ExperimentConfig.from_mapping`, which rejects unknown keys, wrong
types and out-of-range values with a :class:`ConfigError` naming the key. Checks shared by every
config: floats are finite (no NaN, no infinity), lists are not empty, ``device`` is ``auto``, ``cpu``,
``cuda`` or ``cuda:N``; whether that device exists on this machine is checked by the runner
(:func:`lossdyn.pipeline.device.device_problem`), which may render CUDA results from the cache on a CPU.

A notebook run by plain papermill builds its config with :meth:`ExperimentConfig.from_namespace`, which
also checks the names papermill injected (a misspelt ``-p`` key is an error, not a warning) and, in an
IPython kernel, shows a :class:`ConfigError` as its one line instead of a traceback.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
import sys
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = ["ConfigError", "ExperimentConfig"]


class ConfigError(ValueError):
    """A bad parameter: the message is one line that names the key and what is allowed."""


#: The device names a config accepts (availability is the runner's check, see the module docstring).
DEVICE_NAME = re.compile(r"^(auto|cpu|cuda(:[0-9]+)?)$")
#: First line of the cell papermill injects (its Python translator's comment), which the parameters cell is not.
INJECTED_HEADER = "# Parameters"


def _coerce(key: str, value: Any, kind: Any) -> Any:
    """Check ``value`` against the annotation ``kind`` (int, float, str, bool, tuple[...])."""
    origin = typing.get_origin(kind)
    if origin is tuple:
        (item,) = {a for a in typing.get_args(kind) if a is not Ellipsis}
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list of {item.__name__}, got {value!r}")
        if not value:
            raise ConfigError(f"{key} = [] is not allowed: need at least one value")
        return tuple(_coerce(key, v, item) for v in value)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{key} = {value!r} is not allowed: need a finite number")
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a config class with an unsupported annotation is a programming error
        raise TypeError(f"unsupported annotation {kind!r} for {key}")
    raise ConfigError(f"{key}: expected {kind.__name__}, got {type(value).__name__} {value!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """Base class: frozen, keyword-only, no defaults (defaults live in the notebook).

    Subclasses set ``notebook`` and implement :meth:`validate` with the range checks
    that follow from the math; they call :meth:`_require` for one-line messages.
    """

    #: The notebook's name = the name of the module that defines the class (set for every subclass).
    notebook: ClassVar[str] = ""
    #: Fields that do not change the numbers (excluded from the cache key).
    presentation_fields: ClassVar[tuple[str, ...]] = ()

    device: str  # "auto" (CUDA when present, else CPU), "cpu", "cuda" or "cuda:N"
    seed: int  # seeds every torch.Generator the run uses

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.notebook = cls.__module__.rsplit(".", 1)[-1]

    # -- construction -------------------------------------------------------------------
    @classmethod
    def field_types(cls) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ExperimentConfig:
        """Build and validate from a flat mapping; unknown or missing keys are errors."""
        types = cls.field_types()
        unknown = sorted(set(values) - set(types))
        if unknown:
            raise ConfigError(f"{unknown[0]}: unknown parameter for {cls.notebook}; allowed: {', '.join(types)}")
        missing = [k for k in types if k not in values]
        if missing:
            raise ConfigError(f"{missing[0]}: missing parameter for {cls.notebook}")
        return cls(**{k: _coerce(k, values[k], t) for k, t in types.items()})

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> ExperimentConfig:
        """Build from a notebook's globals: picks exactly the config's fields by name.

        Also rejects a name that papermill injected but the config lacks (found in the IPython input
        history ``In``: the cell whose first line is :data:`INJECTED_HEADER`); in an IPython kernel a
        :class:`ConfigError` is then shown as one line (:func:`_one_line_errors`).
        """
        _one_line_errors()
        types = cls.field_types()
        unknown = [k for k in injected_names(namespace) if k not in types]
        if unknown:
            raise ConfigError(f"{unknown[0]}: unknown parameter for {cls.notebook}; allowed: {', '.join(types)}")
        missing = [k for k in types if k not in namespace]
        if missing:
            raise ConfigError(f"{missing[0]}: not set in the notebook's parameters cell")
        return cls.from_mapping({k: namespace[k] for k in types})

    def __post_init__(self) -> None:
        self._require("device", bool(DEVICE_NAME.match(self.device)), "one of auto, cpu, cuda, cuda:N (N >= 0)")
        self._require("seed", self.seed >= 0, "an integer >= 0")
        self.validate()

    def validate(self) -> None:
        """Range checks from the math; override in subclasses."""

    def _require(self, key: str, ok: bool, allowed: str) -> None:
        if not ok:
            raise ConfigError(f"{key} = {getattr(self, key)!r} is not allowed: need {allowed}")

    # -- views --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def result_fields(self) -> dict[str, Any]:
        """The fields that determine the numbers (the cache key is made of these)."""
        return {k: v for k, v in self.to_dict().items() if k not in self.presentation_fields}


def injected_names(namespace: Mapping[str, Any]) -> list[str]:
    """Names assigned by the cells papermill injected, from the IPython input history ``In`` (if any);
    papermill's own ``PAPERMILL_INPUT_PATH``/``PAPERMILL_OUTPUT_PATH`` (``--inject-paths``) are not counted."""
    names: list[str] = []
    history = namespace.get("In")
    for source in history if isinstance(history, list) else []:
        if not isinstance(source, str) or source.split("\n", 1)[0].strip() != INJECTED_HEADER:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        assigned = [t for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]
        names += [t.id for t in assigned if isinstance(t, ast.Name) and not t.id.startswith("PAPERMILL_")]
    return names


def _one_line_errors() -> None:
    """In an IPython kernel, show a :class:`ConfigError` as ``ConfigError: <message>`` without a traceback.

    Plain papermill then reports the one line as the notebook's error; outside the runner
    (``LOSSDYN_RUNNER`` unset) the line is also written to the kernel's own stderr, the terminal of whoever
    started papermill. Does nothing outside IPython.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is installed with the book extras
        return
    shell = get_ipython()
    if shell is None or ConfigError in getattr(shell, "custom_exceptions", ()):
        return

    def handler(self, etype, value, tb, tb_offset=None):
        import os

        if not os.environ.get("LOSSDYN_RUNNER") and sys.__stderr__ is not None:
            print(f"\nerror: {value}", file=sys.__stderr__, flush=True)
        stb = [f"{etype.__name__}: {value}"]
        self._showtraceback(etype, value, stb)  # IPython leaves showing a custom exception to its handler
        return stb

    shell.set_custom_exc((ConfigError,), handler)
