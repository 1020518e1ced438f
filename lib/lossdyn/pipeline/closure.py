"""The compute closure of a unit of work: exactly the lib source its result can depend on.

A unit's cache key (:func:`lossdyn.pipeline.cache.unit_key`) hashes its fields, the device type and
this closure, so an edit to a plot, a table, a claim, a page, the runner or the CLI keeps every key,
and an edit to the trainer renews exactly the units that train with it (book/reproduce.md#keys).

The closure is found from the source, not by running anything. It starts at a plan's **roots**
(:meth:`lossdyn.pipeline.units.Plan.closure_roots`: the plan class and the function that computes its
units) and follows, through the import graph of ``lossdyn``, every top-level definition a reached
definition names:

* a name bound by ``from lossdyn.x import y`` (at the top of a module or inside a function) reaches
  ``y`` in ``lossdyn.x`` (through re-exports; a submodule ``lossdyn.x.y`` is a module reference);
* ``m.f`` with ``m`` a ``lossdyn`` module reaches ``f`` in ``m``; a module used any other way reaches
  every definition of it;
* a name defined at the top of the same module reaches that function or class (a class with all
  its methods, bases and annotations);
* a module constant (a top-level assignment) is a definition like a function: it is reached
  when named; every module reached contributes its other top-level statements (not its imports,
  which only bind names, nor its docstring).

Each reached definition enters the hash as ``ast.unparse`` of its node without docstrings, so
comments, docstrings and formatting do not change a key. What a definition reaches only through
an attribute of a *value* (``x.f()`` with ``x`` an instance) is covered because the class of ``x``
is reached where ``x`` is made or annotated; ``getattr`` with computed names on lib modules is not
used in compute code.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["REST", "closure", "closure_hash", "module_source"]

PACKAGE = "lossdyn"
#: The pseudo-name of a module's top-level statements other than function and class definitions.
REST = "<module>"
_ROOT_DIR = Path(__file__).resolve().parents[1]  # lib/lossdyn

Reader = Callable[[str], "str | None"]


def _module_path(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = _ROOT_DIR.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def module_source(module: str) -> str | None:
    """The source of a ``lossdyn`` module, or of an imported module outside the lib that holds a root
    (a plan made in a test or a user's script); ``None`` for anything else."""
    path = _module_path(module)
    if path is None:
        file = getattr(sys.modules.get(module), "__file__", None)
        path = Path(file) if file and file.endswith(".py") else None
    return None if path is None else path.read_text(encoding="utf-8")


def _is_module(module: str, read: Reader) -> bool:
    return module.split(".")[0] == PACKAGE and read(module) is not None


class _Parsed:
    """One module: its top-level definitions, the names its imports bind, its other statements."""

    def __init__(self, name: str, source: str):
        self.name = name
        tree = ast.parse(source)
        body = tree.body[1:] if ast.get_docstring(tree) is not None else tree.body
        self.defs: dict[str, ast.stmt] = {}
        self.rest: list[ast.stmt] = []
        imports: list[ast.stmt] = []
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defs[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for n in ast.walk(target):
                        if isinstance(n, ast.Name):
                            self.defs.setdefault(n.id, node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(node)
            else:
                self.rest.append(node)
        self.bindings = _bindings(imports + self.rest, name)


def _absolute(node: ast.ImportFrom, here: str) -> str:
    if not node.level:
        return node.module or ""
    base = here.split(".")[: -node.level]
    return ".".join(base + ([node.module] if node.module else []))


def _bindings(nodes: Iterable[ast.AST], here: str) -> dict[str, tuple[str, str | None]]:
    """Names bound to ``lossdyn`` objects by the imports among ``nodes``: name → (module, attribute)."""
    out: dict[str, tuple[str, str | None]] = {}
    for stmt in nodes:
        for node in ast.walk(stmt):
            if isinstance(node, ast.ImportFrom):
                module = _absolute(node, here)
                if module.split(".")[0] == PACKAGE:
                    for alias in node.names:
                        out[alias.asname or alias.name] = (module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == PACKAGE:
                        if alias.asname:
                            out[alias.asname] = (alias.name, None)
                        else:
                            out[PACKAGE] = (PACKAGE, None)
    return out


class _Walker:
    """Collects the (module, definition) pairs reachable from some roots."""

    def __init__(self, read: Reader):
        self.read = read
        self.parsed: dict[str, _Parsed] = {}
        self.seen: set[tuple[str, str]] = set()
        self.todo: list[tuple[str, str]] = []

    def module(self, name: str) -> _Parsed:
        if name not in self.parsed:
            self.parsed[name] = _Parsed(name, self.read(name) or "")
        return self.parsed[name]

    def reach(self, module: str, name: str) -> None:
        if (module, name) not in self.seen:
            self.seen.add((module, name))
            self.todo.append((module, name))

    def target(self, module: str, attr: str | None) -> None:
        """An imported object: a module, a definition, a re-export or a module constant."""
        if attr is None or _is_module(f"{module}.{attr}", self.read):
            self.whole(module if attr is None else f"{module}.{attr}")
            return
        mod = self.module(module)
        if attr in mod.defs:
            self.reach(module, attr)
        elif attr in mod.bindings:
            self.target(*mod.bindings[attr])
        else:
            self.reach(module, REST)

    def whole(self, module: str) -> None:
        self.reach(module, REST)
        for name in self.module(module).defs:
            self.reach(module, name)

    def run(self) -> None:
        while self.todo:
            module, name = self.todo.pop()
            mod = self.module(module)
            self.reach(module, REST)
            nodes = mod.rest if name == REST else [mod.defs[name]] if name in mod.defs else []
            self._names(mod, nodes)

    def _names(self, mod: _Parsed, nodes: list) -> None:
        local = {**mod.bindings, **_bindings(nodes, mod.name)}
        for stmt in nodes:
            as_base: set[int] = set()
            for node in ast.walk(stmt):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    bound = local.get(node.value.id)
                    if bound and _is_module(_joined(bound), self.read):
                        as_base.add(id(node.value))
                        self.target(_joined(bound), node.attr)
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and id(node) not in as_base:
                    self._name(mod, local, node.id)

    def _name(self, mod: _Parsed, local: dict[str, tuple[str, str | None]], name: str) -> None:
        if name in local:
            self.target(*local[name])
        elif name in mod.defs:
            self.reach(mod.name, name)


def _joined(bound: tuple[str, str | None]) -> str:
    module, attr = bound
    return module if attr is None else f"{module}.{attr}"


def closure(roots: Iterable[tuple[str, str]], read: Reader | None = None) -> dict[tuple[str, str], str]:
    """(module, definition) → its normalised source, for everything reachable from ``roots``.

    ``roots`` are (module, top-level name) pairs; ``read`` maps a module name to its source
    (default: the installed files; tests pass edited sources).
    """
    walker = _Walker(read or module_source)
    for module, name in roots:
        walker.reach(module, name)
    walker.run()
    out: dict[tuple[str, str], str] = {}
    for module, name in sorted(walker.seen):
        mod = walker.module(module)
        nodes = mod.rest if name == REST else [mod.defs[name]] if name in mod.defs else []
        out[(module, name)] = "\n".join(ast.unparse(_without_docstrings(n)) for n in nodes)
    return out


def _without_docstrings(node: ast.AST) -> ast.AST:
    """A copy of ``node`` without the docstrings of its functions and classes (they compute nothing)."""
    import copy

    node = copy.deepcopy(node)
    for n in ast.walk(node):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and ast.get_docstring(n) is not None:
            n.body = n.body[1:] or [ast.Pass()]
    return node


def closure_hash(roots: Iterable[tuple[str, str]], read: Reader | None = None) -> str:
    """sha256 over the closure of ``roots`` (names and normalised sources, in sorted order) and, for the
    installed code, the :func:`runtime_variants` of the modules it reaches."""
    roots = tuple(sorted(roots))
    if read is not None:
        return _hash(closure(roots, read))
    source, modules = _cached_hash(roots, _tree_stamp())
    variants = runtime_variants(modules)
    return source if not variants else hashlib.sha256(f"{source}\0{sorted(variants.items())}".encode()).hexdigest()


def runtime_variants(modules: Iterable[str]) -> dict[str, str]:
    """What a reached module says about how it computes on this machine, beyond its source: the value of its
    top-level ``cache_variant()`` where it defines one (e.g. which form of the Paper 2 training step runs:
    a compiled kernel or the tensor program, whose float32 bits differ)."""
    import importlib

    out = {}
    for module in sorted(modules):
        parsed = ast.parse(module_source(module) or "")
        if any(isinstance(n, ast.FunctionDef) and n.name == "cache_variant" for n in parsed.body):
            out[module] = str(importlib.import_module(module).cache_variant())
    return out


def _hash(parts: dict[tuple[str, str], str]) -> str:
    h = hashlib.sha256()
    for (module, name), text in parts.items():
        h.update(f"{module}:{name}\0{text}\0".encode())
    return h.hexdigest()


def _tree_stamp() -> tuple[tuple[str, int, int], ...]:
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(_ROOT_DIR.rglob("*.py")))


@functools.lru_cache(maxsize=256)
def _cached_hash(roots: tuple[tuple[str, str], ...], stamp: tuple) -> tuple[str, tuple[str, ...]]:
    parts = closure(roots)
    return _hash(parts), tuple(sorted({module for module, _ in parts}))
