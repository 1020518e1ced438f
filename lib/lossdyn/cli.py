"""Command line: ``python -m lossdyn build [--profile quick|paper] [--only NAME ...] [-p KEY VALUE ...]``.

A bad parameter exits with code 2 and one line naming the key and what is allowed,
before any kernel starts.
"""

from __future__ import annotations

import argparse
import sys

from lossdyn.config import ConfigError
from lossdyn.runner import PROFILES, build, parse_value

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lossdyn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="execute notebooks with papermill, then build the book")
    b.add_argument("--profile", default="quick", choices=PROFILES,
                   help="quick = the notebooks' defaults (CPU, seconds); paper = params/paper/<notebook>.yml")
    b.add_argument("--only", nargs="+", default=[], metavar="NAME", help="notebooks to execute (default: all)")
    b.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                   help="override a parameter (YAML value), e.g. -p p_d 0.9")
    b.add_argument("--no-book", action="store_true", help="execute notebooks only; skip jupyter-book")
    b.add_argument("--refresh", action="store_true", help="recompute results even when cached")
    b.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds (default 1800)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {key: parse_value(value) for key, value in args.parameter}
    try:
        return build(profile=args.profile, only=args.only, overrides=overrides, book=not args.no_book,
                     refresh=args.refresh, timeout=args.timeout)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
