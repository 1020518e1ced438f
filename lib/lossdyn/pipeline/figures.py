"""The figure contract and the registry of figures: one figure module per notebook.

A **figure module** is the one place where the code of one page lives: it is named exactly like
its notebook (``lossdyn/dynamical/p2_fig5_edge_of_stability.py`` ↔
``notebooks/p2_fig5_edge_of_stability.ipynb``) and sits in its paper's package. It defines the
names of :class:`FigureModule`:

* ``Config`` — the typed, validated parameters (a frozen :class:`~lossdyn.pipeline.config.ExperimentConfig`);
* ``Result`` — the dataclass that ``finish`` returns (documented fields and shapes);
* ``TITLE`` and ``PAPER_FIGURE`` — what the page shows and which figure of the paper it rebuilds
  (``""`` for the companion's own figures);
* ``plan(cfg)`` — the units of work (:mod:`lossdyn.pipeline.units`);
* ``finish(cfg, parts)`` — the ``Result`` from what the plan assembles out of its units;
* ``key_numbers(res)``, ``claims(res)`` and ``plot(res)`` — the sidecar's numbers, the checked
  claims with verdicts and the page's figures: a list of :class:`lossdyn.pipeline.plotting.Shown`
  (figure, caption numbered like the paper's, alt text), each legible at the book's content width;
* optionally ``estimate(cfg)`` — a :class:`Cost` (wall time on the project's 2-core CPU, peak memory) from the
  config's sizes with constants measured on that CPU, which the runner checks before a kernel starts
  (:func:`lossdyn.pipeline.runner.preflight`). :func:`ensemble_cost` is the model the Paper 2 ensembles
  share; :data:`KERNEL_BYTES` and :data:`PROCESS_BYTES` the measured memory of a kernel and of a worker
  process before any compute.

A **paper package** (``lossdyn.dissipativity``, ``lossdyn.dynamical``, ``lossdyn.gradnorms``) is a
subpackage of ``lossdyn`` with a module-level ``PAPER`` (:class:`Paper`). The registry imports
every paper package, finds its figure modules by name (``p<N>_…`` or ``q_…``), checks each against
the contract (a :class:`ContractError` names what is missing) and keys it by its module name,
which is the notebook's name. Adding a figure is therefore: the notebook, the figure module, its
paper-profile YAML and one line of ``_toc.yml``.

A notebook, the CLI and the tests all run a figure the same way: ``Config.from_mapping`` (or
``from_namespace``) → :func:`lossdyn.pipeline.cache.cached_run` (plan → units → ``finish``) →
``plot`` → :func:`lossdyn.pipeline.plotting.save_figure`.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lossdyn.pipeline.config import ConfigError, ExperimentConfig

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

    from lossdyn.pipeline.claims import Claim
    from lossdyn.pipeline.units import Plan

__all__ = [
    "ContractError",
    "Cost",
    "DTYPE_SLOWDOWN",
    "ENSEMBLE_SECONDS_PER_STEP_NET",
    "DTYPE_WIDTH",
    "KERNEL_BYTES",
    "PROCESS_BYTES",
    "FIGURE_NAME",
    "FigureEntry",
    "FigureModule",
    "Paper",
    "check_figure_module",
    "config_class",
    "ensemble_cost",
    "figure",
    "figure_of",
    "figures",
    "papers",
]

#: Module (and notebook) names of figures: ``p1_fig1_…``, ``p2_fig2_3_…``, ``p1_turnpike_horizon``, ``q_…``.
FIGURE_NAME = re.compile(r"^(p\d+|q)_[a-z0-9_]+$")


class ContractError(TypeError):
    """A figure module that lacks a name of :class:`FigureModule` (the message names each one)."""


@dataclasses.dataclass(frozen=True)
class Cost:
    """What one run of a figure with a given config is expected to cost, from the config's sizes.

    ``seconds``: wall time on the project's 2-core CPU (one thread per worker process);
    ``memory_bytes``: peak resident memory of the run. A figure module's ``estimate(cfg)`` returns it; the
    runner compares it with the machine's free memory and with the profile's own estimate before any kernel starts.
    """

    seconds: float
    memory_bytes: int


#: Peak memory of a notebook's kernel before its compute (torch, matplotlib, IPython imported, the figure
#: drawn and saved): 428 MB measured for ``p1_fig1_soft_cross_entropy`` at the quick profile (ps, every 0.25 s),
#: of which 90 MB its compute (a harness that imports the same modules peaks at 280 MB, 369 MB with the compute).
KERNEL_BYTES = 350 * 2**20
#: Memory of one more process that imports torch (a ``workers`` process, a Dask worker): 280 MB measured.
PROCESS_BYTES = 280 * 2**20
#: float64 against float32 on this CPU: 16 878 against 8 306 network-steps per second for the batched
#: ensemble (``book/measured/`` benchmark, 8 networks, chunks of 4): about 2.
DTYPE_SLOWDOWN = {"float32": 1.0, "float64": 2.0}
#: The fused ensemble step of a chunk of k networks 2 → H → 3 on the 300 spiral points (float32, one thread)
#: costs k·(ENSEMBLE_SECONDS_PER_STEP_NET + ENSEMBLE_SECONDS_PER_STEP_H·H) seconds: fitted by least squares to
#: the 69 chunks of the Paper 2 Fig. 4 paper-profile sweep on the project's 2-core Intel Xeon (H = 5 to 150,
#: k = 2 to 64, 70 000 steps; 955 s of compute in all; median error 10 %, largest 47 %, at H = 5, k = 64).
ENSEMBLE_SECONDS_PER_STEP_NET = 5.7e-6
ENSEMBLE_SECONDS_PER_STEP_H = 1.16e-7
#: Bytes per network per hidden unit per data point of a chunk in training: +200 MB over the process for one
#: chunk of 4 networks at H = 2000, float32 (Fig. 5) → 83 B; twice that for float64 (:data:`DTYPE_WIDTH`).
ENSEMBLE_BYTES_PER_H_POINT = 83
#: Size of a float against float32.
DTYPE_WIDTH = {"float32": 1, "float64": 2}
REFERENCE_CORES = 2  # the project's CPU: estimates are for it


def ensemble_cost(
    jobs: Sequence[tuple[Any, Sequence[Any]]],
    *,
    chunk: Callable[[int], int],
    workers: int,
    per_chunk_step: float,
    overhead: float,
) -> Cost:
    """The :class:`Cost` of training ensembles the way a serial run does (``train_many``: chunks of
    ``chunk(H)`` networks of one ``TrainSpec``, ``workers`` processes), from measured constants.

    A chunk of k networks costs ``steps · (per_chunk_step + k · (ENSEMBLE_SECONDS_PER_STEP_NET +
    ENSEMBLE_SECONDS_PER_STEP_H · H)) · DTYPE_SLOWDOWN``;
    chunks run ``min(workers, REFERENCE_CORES)`` at a time; ``overhead`` is the rest of the notebook
    (kernel start, the figure). ``per_chunk_step`` is the figure's measured per-step cost of a chunk
    besides the networks' arithmetic (its records, λ tracking, onsets).
    """
    seconds, per_chunk, n_points = [], [], 300
    for spec, members in jobs:
        slow = DTYPE_SLOWDOWN.get(spec.dtype, 2.0)
        size = chunk(spec.H)
        for i in range(0, len(members), size):
            k = len(members[i : i + size])
            per_step = per_chunk_step + k * (ENSEMBLE_SECONDS_PER_STEP_NET + ENSEMBLE_SECONDS_PER_STEP_H * spec.H)
            seconds.append(spec.steps * per_step * slow)
            per_chunk.append(ENSEMBLE_BYTES_PER_H_POINT * DTYPE_WIDTH.get(spec.dtype, 2) * k * spec.H * n_points)
    parallel = max(1, min(workers, REFERENCE_CORES, len(seconds)))
    wall = max(sum(seconds) / parallel, max(seconds, default=0.0))
    processes = parallel if parallel > 1 else 0
    memory = KERNEL_BYTES + processes * PROCESS_BYTES + parallel * max(per_chunk, default=0.0)
    return Cost(seconds=overhead + wall, memory_bytes=int(memory))


@dataclasses.dataclass(frozen=True)
class Paper:
    """A paper (or the question) the companion reproduces: the metadata its chapter and tables show."""

    order: int  # position in the book (chapters and tables)
    short: str  # "Paper 1"
    title: str
    authors: str
    arxiv: str  # arXiv identifier, "" for the question page
    chapter: str  # the chapter page's document name, e.g. "book/paper1"

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else ""


@runtime_checkable
class FigureModule(Protocol):
    """What a figure module defines (see the module docstring); checked by :func:`check_figure_module`."""

    Config: type[ExperimentConfig]
    Result: type
    TITLE: str
    PAPER_FIGURE: str

    def plan(self, cfg: Any) -> Plan: ...

    def finish(self, cfg: Any, parts: Any) -> Any: ...

    def key_numbers(self, res: Any) -> Mapping[str, Any]: ...

    def claims(self, res: Any) -> Sequence[Claim]: ...

    def plot(self, res: Any) -> MplFigure | Sequence[Any]: ...


#: Optional: ``estimate(cfg) -> Cost``; the runner checks a run's cost where the module has it.
_CALLABLES = ("plan", "finish", "key_numbers", "claims", "plot")
_STRINGS = ("TITLE", "PAPER_FIGURE")


def check_figure_module(module: ModuleType) -> None:
    """Raise :class:`ContractError` naming every name of :class:`FigureModule` that ``module`` lacks."""
    problems = [f"{n} (a function)" for n in _CALLABLES if not callable(getattr(module, n, None))]
    problems += [f"{n} (a str)" for n in _STRINGS if not isinstance(getattr(module, n, None), str)]
    cfg = getattr(module, "Config", None)
    if not (isinstance(cfg, type) and issubclass(cfg, ExperimentConfig)):
        problems.append("Config (an ExperimentConfig subclass)")
    elif cfg.__module__ != module.__name__:
        problems.append(f"Config defined in this module (it is {cfg.__module__}.{cfg.__name__})")
    result = getattr(module, "Result", None)
    if not (isinstance(result, type) and dataclasses.is_dataclass(result)):
        problems.append("Result (a dataclass)")
    if problems:
        raise ContractError(
            f"figure module {module.__name__} does not meet the figure contract "
            f"(lossdyn.pipeline.figures.FigureModule); missing or wrong: {', '.join(problems)}"
        )


@dataclasses.dataclass(frozen=True)
class FigureEntry:
    """A registered figure: its notebook name, module and paper."""

    name: str
    module: ModuleType
    paper: Paper

    @property
    def label(self) -> str:
        """ "Paper 1, Fig. 1" or "Paper 1, companion figure" (the companion's own figures)."""
        return f"{self.paper.short}, {self.module.PAPER_FIGURE or 'companion figure'}"


def _paper_packages() -> list[tuple[ModuleType, Paper]]:
    import lossdyn

    found = []
    for info in pkgutil.iter_modules(lossdyn.__path__):
        if info.ispkg and info.name != "pipeline":
            pkg = importlib.import_module(f"lossdyn.{info.name}")
            if isinstance(getattr(pkg, "PAPER", None), Paper):
                found.append((pkg, pkg.PAPER))
    return sorted(found, key=lambda item: item[1].order)


@functools.cache
def figures() -> dict[str, FigureEntry]:
    """Every figure, in book order (paper, then name), keyed by notebook name; modules checked."""
    out: dict[str, FigureEntry] = {}
    for pkg, paper in _paper_packages():
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if FIGURE_NAME.match(info.name):
                module = importlib.import_module(f"{pkg.__name__}.{info.name}")
                check_figure_module(module)
                if info.name in out:
                    raise ContractError(f"two figure modules named {info.name}")
                out[info.name] = FigureEntry(info.name, module, paper)
    return out


def papers() -> list[Paper]:
    """The papers in book order."""
    return [paper for _, paper in _paper_packages()]


def figure(name: str) -> ModuleType:
    """The figure module of a notebook, e.g. ``figure("p2_fig5_edge_of_stability")``."""
    try:
        return figures()[name].module
    except KeyError:
        raise ConfigError(f"unknown notebook {name!r}; known: {', '.join(figures())}") from None


def figure_of(cfg: ExperimentConfig) -> ModuleType:
    """The figure module whose ``Config`` ``cfg`` is."""
    return figure(cfg.notebook)


def config_class(name: str) -> type[ExperimentConfig]:
    """The ``Config`` of a notebook's figure module."""
    return figure(name).Config
