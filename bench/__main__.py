"""The CLI: `python -m bench [--only NAME]`. Runs every registered benchmark, or one.

To add a benchmark, write a module exposing `run() -> int` (an exit code; raise
bench.Refused or bench.Failed to stop early) and register it in BENCHMARKS below.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bench import Failed, Refused

# name -> "module:function". Imported lazily, so one benchmark's tools are never
# required by another.
BENCHMARKS: dict[str, str] = {
    "intake": "bench.intake:run",
    "admin": "bench.admin:run",
    "mapping": "bench.mapping:run",
    "ratelimit": "bench.ratelimit:run",
    "delivery": "bench.delivery:run",
    "chaos": "bench.chaos:run",
    "replay": "bench.replay:run",
}


def run_one(name: str) -> int:
    module_name, _, func_name = BENCHMARKS[name].partition(":")
    func = getattr(importlib.import_module(module_name), func_name)
    print(f"== bench {name}", flush=True)
    try:
        return func()
    except Refused as exc:
        print(f"bench {name}: refused: {exc}", file=sys.stderr, flush=True)
        return 2
    except Failed as exc:
        print(f"bench {name}: FAILED: {exc}", file=sys.stderr, flush=True)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=sorted(BENCHMARKS), help="run this benchmark only")
    args = parser.parse_args(argv)
    names = [args.only] if args.only else list(BENCHMARKS)
    return max(run_one(name) for name in names)


if __name__ == "__main__":
    sys.exit(main())
