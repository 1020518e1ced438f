"""The notebook hygiene rules, as a checker the tests apply to notebooks/ and to fixtures.

A notebook is thin: a title, one typed and commented ``parameters`` cell, then calls into the
lib. It defines nothing (no def, class or lambda), has no loops (training loops belong in the
lib), has no committed outputs, and is named ``p1_figN_<topic>``, ``p2_figN_<topic>`` (N may be
a range such as ``2_4``), ``p1_<topic>``/``p2_<topic>`` for non-figure pages, or ``q_<topic>``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

NAME_RULE = re.compile(
    r"^(p[12]_fig\d+(_\d+)?_[a-z0-9]+(_[a-z0-9]+)*|p[12]_[a-z][a-z0-9]*(_[a-z0-9]+)*|q_[a-z0-9]+(_[a-z0-9]+)*)$"
)
PARAM_LINE = re.compile(
    r"^(?P<name>[A-Za-z_]\w*): (?P<type>int|float|str|bool|list|tuple\[[\w, .]+\]) "
    r"= (?P<value>[^#=]+?)  # (?P<help>[^=]+)$"
)
FORBIDDEN = {
    ast.FunctionDef: "defines a function",
    ast.AsyncFunctionDef: "defines a function",
    ast.ClassDef: "defines a class",
    ast.Lambda: "defines a lambda",
    ast.For: "has a for loop (loops belong in the lib)",
    ast.While: "has a while loop (loops belong in the lib)",
}


def parameter_lines(source: str) -> list[str]:
    return [ln for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def check_notebook(path: Path) -> list[str]:
    """Every rule the notebook breaks, one line each (empty list: clean)."""
    problems = []
    if not NAME_RULE.match(path.stem):
        problems.append(f"name {path.name!r} does not follow p1_figN_<topic> / p2_figN_<topic> / q_<topic>")
    nb = nbformat.read(path, as_version=4)
    if not nb.cells or nb.cells[0].cell_type != "markdown" or not nb.cells[0].source.startswith("# "):
        problems.append("first cell is not a markdown title ('# ...')")
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    if len(params) != 1:
        problems.append(f"{len(params)} cells tagged 'parameters' (want exactly 1)")
    for i, cell in enumerate(code):
        if cell.get("outputs") or cell.get("execution_count") is not None:
            problems.append(f"code cell {i} has committed outputs or an execution count")
        try:
            tree = ast.parse(cell.source)
        except SyntaxError as exc:
            problems.append(f"code cell {i} does not parse: {exc.msg}")
            continue
        for node in ast.walk(tree):
            for kind, what in FORBIDDEN.items():
                if isinstance(node, kind):
                    problems.append(f"code cell {i} {what} (line {node.lineno})")
            if isinstance(node, ast.Attribute) and node.attr in {"backward", "step", "zero_grad"}:
                problems.append(f"code cell {i} calls .{node.attr}() (training belongs in the lib)")
    for cell in params:
        for line in parameter_lines(cell.source):
            if not PARAM_LINE.match(line):
                problems.append(f"parameter line {line!r} is not 'name: type = value  # help' (and no '=' in the help)")
    return problems
