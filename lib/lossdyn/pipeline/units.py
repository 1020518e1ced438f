"""Units of work: how a resolved config splits into independent runs, the grain of cache and sweeps.

A figure at paper scale is a grid of independent runs (Paper 2 Fig. 5: conditions × seeds × η;
Paper 1 Fig. 5: several deep networks). A :class:`Plan` says, for one resolved config,

* ``units``: the runs, each a :class:`Unit` whose ``fields`` (JSON) are everything its result
  depends on besides the device type and the lib source, so the same run met in a bigger grid
  (more seeds, another η) has the same cache key and is not computed again;
* ``compute(batch)``: the results of some units, computed together where that is faster (one
  batched ensemble per group, one stack of ResNets per group; a serial run passes every missing
  unit in one batch) — a unit's result never depends on what else is in its
  batch (tested bit for bit on CPU), so a serial run and a sweep over many machines give the
  same bytes;
* ``task_batches(missing)``: how a sweep splits the missing units into tasks;
* ``assemble(results)``: the parts the figure's ``finish`` takes, from the units' results in
  ``units`` order (:func:`lossdyn.pipeline.cache.cached_run` then calls ``finish(cfg, parts)``).

Three kinds of plan cover the notebooks: :class:`EnsemblePlan` (Paper 2: one unit per network
(TrainSpec, Member) of the ensemble trainer), :class:`NetworkPlan` (Paper 1: one unit per ResNet
of :func:`lossdyn.dissipativity.training.train_and_measure`) and :class:`WholeRun` (one unit, the
whole run: cheap pages, and Figs. 2–3 whose dense λ tracking follows the whole batch).
Every figure module defines ``plan(cfg)`` (the figure contract, :mod:`lossdyn.pipeline.figures`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from lossdyn.pipeline.config import ExperimentConfig

__all__ = ["EnsemblePlan", "NetworkPlan", "Plan", "Unit", "WholeRun", "canonical", "plan_for", "split_members"]


def canonical(value: Any) -> str:
    """Canonical JSON (sorted keys, tuples as lists, no spaces): the bytes a key is hashed from."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=list)


@dataclasses.dataclass(frozen=True, eq=False)
class Unit:
    """One independent run: ``kind`` and ``fields`` identify it; ``group`` says which units can share
    a batch; ``label`` is for people; ``obj`` is what the plan computes it from (not serialised)."""

    kind: str
    fields: dict[str, Any]
    group: str
    label: str
    obj: Any = None


class Plan:
    """Base class: see the module docstring. Subclasses set ``self.units``."""

    units: list[Unit]

    def compute(self, batch: Sequence[Unit], *, device: str, workers: int = 1) -> list[dict[str, Any]]:
        raise NotImplementedError

    def assemble(self, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
        raise NotImplementedError

    def task_batches(self, missing: Sequence[Unit], *, device: str) -> list[list[Unit]]:
        """Sweep tasks: by default one unit per task."""
        return [[u] for u in missing]

    def model_steps(self, unit: Unit) -> int | None:
        """Optimizer steps of the network(s) of ``unit`` (the sweep's measure of work), ``None`` where a
        unit is not a trained network (a whole run)."""
        return None

    def closure_roots(self) -> list[tuple[str, str]]:
        """Where the compute closure of this plan's units starts (:mod:`lossdyn.pipeline.closure`):
        the plan class and the function that computes the units, as (module, top-level name)."""
        return [(type(self).__module__, type(self).__name__)]


def _function_root(fn: Callable[..., Any]) -> tuple[str, str]:
    """(module, top-level name) of a compute function; a lambda or a nested function stands for the
    module's ``plan`` (which holds it), a ``functools.partial`` for its function."""
    fn = getattr(fn, "func", fn)
    name = fn.__qualname__
    return (fn.__module__, "plan" if "<" in name or "." in name else name)


def _by_group(units: Sequence[Unit]) -> list[list[Unit]]:
    groups: dict[str, list[Unit]] = {}
    for u in units:
        groups.setdefault(u.group, []).append(u)
    return list(groups.values())


def _chunks(units: Sequence[Unit], size: int) -> list[list[Unit]]:
    return [list(units[i : i + size]) for i in range(0, len(units), size)]


def _without_device(cfg: ExperimentConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.result_fields().items() if k != "device"}


# -- whole run ------------------------------------------------------------------------------------
class WholeRun(Plan):
    """One unit: the notebook's whole run (fields: every result field but the device);
    ``compute(cfg)`` returns its result (a dict of tensors, numbers and strings)."""

    def __init__(self, cfg: ExperimentConfig, compute: Callable[[ExperimentConfig], dict[str, Any]]):
        self.cfg, self.run = cfg, compute
        self.units = [Unit("run", {"notebook": cfg.notebook, "config": _without_device(cfg)}, "run", cfg.notebook)]

    def compute(self, batch, *, device, workers=1):
        return [self.run(dataclasses.replace(self.cfg, device=device)) for _ in batch]

    def assemble(self, results):
        return results[0]

    def closure_roots(self):
        return [*super().closure_roots(), _function_root(self.run)]


# -- Paper 2: one unit per network of the ensemble trainer ----------------------------------------
def split_members(out: dict[str, Any], spec: Any) -> list[dict[str, Any]]:
    """Split an ensemble result (members stacked on dim 0) into one result per member.

    The inverse of :func:`lossdyn.dynamical.ensemble.concat_parts`: per-period arrays are trimmed to the
    member's own number of periods ⌈steps/T⌉ (a batch pads them to its shortest T), so
    ``concat_parts(split_members(r))`` equals ``r`` bit for bit.
    """
    from lossdyn.dynamical.ensemble import PERIOD_KEYS, SHARED_KEYS

    n = int(out["n_models"])
    parts = []
    for i in range(n):
        width = max(1, math.ceil(spec.steps / int(out["T"][i])))
        part: dict[str, Any] = {}
        for key, value in out.items():
            if key == "n_models":
                part[key] = 1
            elif isinstance(value, torch.Tensor) and value.dim() >= 1 and key not in SHARED_KEYS:
                row = value[i : i + 1]
                part[key] = (row[:, :width] if key in PERIOD_KEYS else row).clone()
            else:
                part[key] = value
        parts.append(part)
    return parts


class EnsemblePlan(Plan):
    """Units = networks (TrainSpec, Member) of ensemble jobs; ``assemble`` gives one result per job,
    exactly what :func:`lossdyn.dynamical.ensemble.train_many` would return for ``jobs``."""

    def __init__(self, jobs: Sequence[tuple[Any, Sequence[Any]]]):
        self.jobs = [(s, list(m)) for s, m in jobs]
        self.units = []
        for spec, members in self.jobs:
            if spec.dense_every > 0:
                raise ValueError("dense λ tracking follows the whole batch: use WholeRun for such an ensemble")
            spec_fields = dataclasses.asdict(spec)
            group = canonical(spec_fields)
            for m in members:
                label = (
                    f"H={spec.H} {spec.family}/{spec.weighting} steps={spec.steps} "
                    f"eta={m.eta:g} A={m.A:g} T={m.T} replica={m.replica}"
                )
                self.units.append(
                    Unit(
                        "ensemble-member",
                        {"spec": spec_fields, "member": dataclasses.asdict(m)},
                        group,
                        label,
                        (spec, m),
                    )
                )

    def compute(self, batch, *, device, workers=1):
        from lossdyn.dynamical.ensemble import train_many

        groups = _by_group(batch)
        jobs = [(g[0].obj[0], [u.obj[1] for u in g]) for g in groups]
        results = train_many(jobs, device=device, workers=workers)  # CPU chunks: cpu_chunk(H)
        by_id = {}
        for g, (spec, _), r in zip(groups, jobs, results):
            by_id.update(zip(map(id, g), split_members(r, spec)))
        return [by_id[id(u)] for u in batch]

    def model_steps(self, unit):
        return int(unit.obj[0].steps)

    def task_batches(self, missing, *, device):
        from lossdyn.dynamical.ensemble import cpu_chunk

        groups = _by_group(missing)
        if device != "cpu":
            return [list(g) for g in groups]  # a GPU runs a whole group as one batch
        return [c for g in groups for c in _chunks(g, cpu_chunk(g[0].obj[0].H))]

    def assemble(self, results):
        from lossdyn.dynamical.ensemble import concat_parts

        out, i = [], 0
        for _, members in self.jobs:
            out.append(concat_parts(list(results[i : i + len(members)])))
            i += len(members)
        return out


# -- Paper 1: one unit per ResNet of a stack --------------------------------------------------------
class NetworkPlan(Plan):
    """Units = ResNets trained on one data set with one setting (``setup``, JSON); ``train(nets, keep)``
    trains a list of net specs as one stack and returns one record per net, ``keep`` flags which
    keep their states; ``assemble`` gives the records in ``nets`` order."""

    def __init__(
        self,
        setup: dict[str, Any],
        nets: Sequence[dict[str, Any]],
        keep: Sequence[bool],
        train: Callable[..., list[dict[str, Any]]],
    ):
        self.train = train
        group = canonical(setup)
        self.units = [
            Unit("resnet", {"setup": setup, "net": dict(net), "keep_states": bool(k)}, group, net["label"], net)
            for net, k in zip(nets, keep)
        ]

    def closure_roots(self):
        return [*super().closure_roots(), _function_root(self.train)]

    def compute(self, batch, *, device, workers=1):
        by_id = {}
        for g in _by_group(batch):
            records = self.train([dict(u.obj) for u in g], [u.fields["keep_states"] for u in g], device)
            by_id.update(zip(map(id, g), records))
        return [by_id[id(u)] for u in batch]

    def model_steps(self, unit):
        setup = unit.fields["setup"]
        if setup.get("steps"):
            return int(setup["steps"])
        if setup.get("epochs") and setup.get("batch_size") and setup.get("n_train"):
            return int(setup["epochs"]) * math.ceil(int(setup["n_train"]) / int(setup["batch_size"]))
        return None

    def task_batches(self, missing, *, device):
        return [[u] for u in missing] if device == "cpu" else _by_group(missing)

    def assemble(self, results):
        return list(results)


def plan_for(cfg: ExperimentConfig) -> Plan:
    """The plan of ``cfg``: its figure module's ``plan(cfg)``."""
    from lossdyn.pipeline.figures import figure_of

    return figure_of(cfg).plan(cfg)
