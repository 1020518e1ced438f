"""Command line: ``python -m lossdyn build …`` renders the book; ``python -m lossdyn sweep NOTEBOOK …``
computes a notebook's units on Dask (see :mod:`lossdyn.pipeline.sweep`); ``python -m lossdyn readme``
rewrites the README's figure table from the figure registry.

A bad parameter exits with code 2 and one line naming the key and what is allowed,
before any kernel or worker starts; so do a run that cannot or should not start (a CUDA device that is
not there, an estimate above the machine's memory, one far beyond its profile's time without ``--yes``),
a results cache that cannot be written and a scheduler that cannot be reached. Ctrl-C ends a build or a
sweep with one line and exit code 130, keeping what was finished.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from lossdyn.pipeline.config import ConfigError
from lossdyn.pipeline.measured import record_sweep
from lossdyn.pipeline.paths import find_root
from lossdyn.pipeline.progress import Interrupted
from lossdyn.pipeline.runner import (
    BUILD_PROFILES,
    COST_FACTOR,
    PROFILES,
    build,
    list_notebooks,
    parse_value,
    plan_jobs,
    preflight,
)

__all__ = ["main"]


def _common(p: argparse.ArgumentParser, *, build: bool = False) -> None:
    if build:
        p.add_argument(
            "--profile",
            default=None,
            choices=BUILD_PROFILES,
            help="archive (the default without -p) = every page at the paper profile read from the published "
            "archive results/paper/ where it is complete, else quick, computing nothing at paper scale; "
            "quick = the notebooks' defaults (CPU, seconds; the default with -p); "
            "paper = params/paper/<notebook>.yml, computing what is not cached",
        )
    else:
        p.add_argument(
            "--profile",
            default="quick",
            choices=PROFILES,
            help="quick = the notebooks' defaults (CPU, seconds); paper = params/paper/<notebook>.yml",
        )
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("KEY", "VALUE"),
        help="override a parameter (YAML 1.2 value: 1e-3 and .inf are numbers), e.g. -p p_d 0.9",
    )
    p.add_argument(
        "--cache-dir",
        default=None,
        metavar="PATH",
        help="results cache root (default: $LOSSDYN_CACHE_DIR, else results/); "
        "a shared filesystem path lets several machines share results",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lossdyn", description="Run the companion's notebooks and sweeps.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="execute notebooks with papermill, then build the book")
    _common(b, build=True)
    b.add_argument(
        "--only", nargs="+", action="extend", default=[], metavar="NAME", help="notebooks to execute (default: all)"
    )
    b.add_argument("--no-book", action="store_true", help="execute notebooks only; skip jupyter-book")
    b.add_argument("--refresh", action="store_true", help="recompute results even when cached")
    b.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds (default 1800)")
    b.add_argument(
        "--yes",
        action="store_true",
        help=f"run even if a notebook's estimated time is more than {COST_FACTOR:g}x its profile's",
    )
    s = sub.add_parser("sweep", help="compute notebooks' missing units as tasks on Dask distributed")
    s.add_argument(
        "notebook",
        nargs="*",
        help="notebook names, e.g. p2_fig5_edge_of_stability (default: every notebook, in the book's order)",
    )
    _common(s)
    s.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="an existing Dask scheduler, e.g. tcp://10.0.0.1:8786 (default: a LocalCluster on this machine)",
    )
    s.add_argument(
        "--workers", type=int, default=None, metavar="N", help="LocalCluster worker processes (default: one per core)"
    )
    s.add_argument("--retries", type=int, default=2, help="resubmissions of a failed task (default 2)")
    s.add_argument("--dry-run", action="store_true", help="list the units and what is cached; compute nothing")
    pub = sub.add_parser(
        "publish", help="copy notebooks' computed units of a profile (default paper) into the archive results/paper/"
    )
    pub.add_argument("notebook", nargs="*", help="notebook names (default: every notebook)")
    pub.add_argument(
        "--partial",
        action="store_true",
        help="publish the units computed so far when some are still missing (the page stays quick until all are)",
    )
    _common(pub)
    pub.set_defaults(profile="paper")
    v = sub.add_parser("verify", help="recompute a sample of archived units and compare them with the archive")
    v.add_argument("--all", action="store_true", help="every archived unit, not a sample")
    v.add_argument(
        "--budget", type=float, default=600.0, metavar="SECONDS", help="recorded compute time of the sample (600)"
    )
    v.add_argument("--commit", default=None, help="the hash that picks the sample (default: git HEAD)")
    r = sub.add_parser("readme", help="rewrite the README's figure table from the figure registry")
    r.add_argument("--check", action="store_true", help="exit 1 if the table is out of date; change nothing")
    return parser


def _readme(args: argparse.Namespace) -> int:
    from lossdyn.pipeline.pages import README_BEGIN, README_END, readme_figure_table, update_readme

    root = find_root()
    if args.check:
        text = (root / "README.md").read_text()
        current = text[text.index(README_BEGIN) + len(README_BEGIN) : text.index(README_END)].strip()
        ok = current == readme_figure_table()
        print(
            "README figure table is up to date"
            if ok
            else "README figure table is out of date: run python -m lossdyn readme"
        )
        return 0 if ok else 1
    print("README figure table rewritten" if update_readme(root) else "README figure table already up to date")
    return 0


def _sweep(args: argparse.Namespace, overrides: dict) -> int:
    """``sweep`` over the named notebooks (every notebook when none is named), one after the other;
    a later notebook still runs when an earlier one failed (exit 1 then)."""
    known = list_notebooks(find_root())
    for name in args.notebook:
        if name not in known:
            raise ConfigError(f"NOTEBOOK: unknown notebook {name!r}; known: {', '.join(known)}")
    names = args.notebook or known
    jobs = [plan_jobs(profile=args.profile, only=[name], overrides=overrides)[0] for name in names]
    codes = [_sweep_one(args, job, overrides) for job in jobs]
    return max(codes)


def _sweep_one(args: argparse.Namespace, job: Any, overrides: dict) -> int:
    from lossdyn.pipeline.cache import cache_root
    from lossdyn.pipeline.sweep import damaged_units, sweep, sweep_tasks

    cfg = job.cfg
    if args.dry_run:
        n, cached, payloads = sweep_tasks(cfg, cache_root())
        damaged = damaged_units(cfg, cache_root())
        print(
            f"{cfg.notebook}: {n} units, {cached} cached or archived, {n - cached} to compute in {len(payloads)} tasks "
            f"(cache: {cache_root()})" + (f"; {len(damaged)} damaged entries among them" if damaged else "")
        )
        for line in damaged:
            print(f"  damaged: {line}")
        for i, p in enumerate(payloads):
            print(f"  task {i}: {'; '.join(p['labels'])}")
        return 0
    if not args.scheduler:  # workers on this machine: its device and memory (a sweep is meant to be long)
        preflight([job], yes=True)
    try:
        report = sweep(cfg, scheduler=args.scheduler, n_workers=args.workers, retries=args.retries)
    except Interrupted as stopped:  # what this sweep finished counts: the next one resumes the grid
        part = getattr(stopped, "report", None)
        if part is not None and part.computed and args.profile == "paper":
            record_sweep(part, cfg, overrides, find_root(), interrupted=True)
        raise
    print(report.summary())
    if report.ok and report.computed and args.profile == "paper":
        record_sweep(report, cfg, overrides, find_root())
    if report.ok:
        flag = "" if args.profile == "quick" else f" --profile {args.profile}"
        params = "".join(f" -p {k} {shlex.quote(v)}" for k, v in args.parameter)
        print(f"render from the cache: python -m lossdyn build --only {cfg.notebook}{flag}{params}")
    return 0 if report.ok else 1


def _publish(args: argparse.Namespace, overrides: dict) -> int:
    from lossdyn.pipeline.archive import MAX_BYTES, archive_bytes, archive_root, publish
    from lossdyn.pipeline.cache import cache_root

    known = list_notebooks(find_root())
    unknown = [n for n in args.notebook if n not in known]
    if unknown:
        raise ConfigError(f"NOTEBOOK: unknown notebook {unknown[0]!r}; known: {', '.join(known)}")
    archive = archive_root()
    for name in args.notebook or known:
        job = plan_jobs(profile=args.profile, only=[name], overrides=overrides)[0]
        entry = publish(job.cfg, cache_root(), archive, profile=args.profile, partial=args.partial)
        of = "" if entry["complete"] else f" of {entry['grid_units']} (partial)"
        print(f"{name}: {len(entry['units'])}{of} units archived ({entry['compute_seconds']:.0f} s of compute)")
    size = archive_bytes(archive)
    print(f"archive {archive}: {size / 2**20:.1f} MiB of {MAX_BYTES / 2**20:.0f} MiB")
    return 0 if size <= MAX_BYTES else 1


def _verify(args: argparse.Namespace) -> int:
    from lossdyn.pipeline.archive import archive_root, verify
    from lossdyn.pipeline.cache import _git_commit
    from lossdyn.pipeline.device import resolve_device

    os.environ.setdefault("LOSSDYN_QUIET", "1")  # no progress bars: one summary line and the mismatches
    commit = args.commit or _git_commit(find_root()) or "no-commit"
    report = verify(
        archive_root(), commit=commit, budget_s=None if args.all else args.budget, device=resolve_device("auto").type
    )
    print(report.summary())
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code (0 ok, 1 a run failed, 2 bad input, 130 Ctrl-C)."""
    args = _parser().parse_args(argv)
    overrides = {key: parse_value(value) for key, value in getattr(args, "parameter", [])}
    if getattr(args, "cache_dir", None):  # papermill kernels and Dask's local workers inherit it
        os.environ["LOSSDYN_CACHE_DIR"] = str(Path(args.cache_dir).expanduser().resolve())
    try:
        if args.command == "readme":
            return _readme(args)
        if args.command == "publish":
            return _publish(args, overrides)
        if args.command == "verify":
            return _verify(args)
        if args.command == "sweep":
            if args.workers is not None and args.workers < 1:
                raise ConfigError(f"--workers = {args.workers} is not allowed: need >= 1")
            if args.retries < 0:
                raise ConfigError(f"--retries = {args.retries} is not allowed: need >= 0")
            return _sweep(args, overrides)
        return build(
            profile=args.profile,
            only=args.only,
            overrides=overrides,
            book=not args.no_book,
            refresh=args.refresh,
            timeout=args.timeout,
            yes=args.yes,
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"interrupted: {exc}" if str(exc) else "interrupted (Ctrl-C)", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
