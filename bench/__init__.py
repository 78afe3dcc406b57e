"""LeadFlow benchmarks: `python -m bench [--only NAME]` (`make bench ONLY=NAME`).

Each benchmark is a module with a `run() -> int` function, registered by name in
bench/__main__.py. Results are printed one per line as `name: value`.
"""


class Refused(Exception):
    """The environment cannot run this benchmark (exit code 2)."""


class Failed(Exception):
    """The benchmark ran but something it checks went wrong (exit code 1)."""
