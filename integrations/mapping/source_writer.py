"""Writing Python source for a function built at run time (step_source.py's mapper):
lines at an indentation, values bound by name rather than written into the text, rule
sets as expressions, dataclass instances filled in directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .context import context_getter
from .rules import RuleSet, condition_test


class SourceWriter:
    """The source's lines, and the namespace its names are bound in (`names`)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {}
        self.depth = 0

    def add(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.add(header)
        self.depth += 1
        start = len(self.lines)
        yield
        if len(self.lines) == start:
            self.add("pass")  # a block whose lines were all decided away
        self.depth -= 1

    def bind(self, value: Any) -> str:
        """A name for `value` in the function's namespace."""
        name = f"_k{len(self.names)}"
        self.names[name] = value
        return name

    def new(self, local: str, cls: type, values: dict[str, str]) -> None:
        """`local = cls(**values)` for a dataclass without __post_init__, its other
        fields at their defaults: the instance's __dict__ filled in directly, which
        costs a third of a frozen dataclass's __init__ (a setattr per field). The
        function's namespace must hold `_new` (object.__new__)."""
        assert not hasattr(cls, "__post_init__") and not hasattr(cls, "__slots__")
        self.add(f"{local} = _new({self.bind(cls)})")
        self.add(f"fields = {local}.__dict__")
        for spec in dataclasses.fields(cls):
            if spec.name in values:
                value = values.pop(spec.name)
            else:
                assert spec.default is not dataclasses.MISSING, spec.name
                value = self.bind(spec.default)
            self.add(f"fields[{spec.name!r}] = {value}")
        assert not values, values

    def rule(self, ruleset: RuleSet) -> str:
        """rules_evaluate(ruleset, context) as an expression of the locals `context`
        and `rules_lead` (the context's "lead" when it is a dict, else None). The rules
        are pure and total, so `and` / `or` decide as all() / any() do."""
        if ruleset.is_empty:
            return "True"
        tests = []
        for item in ruleset.conditions:
            if isinstance(item, RuleSet):
                tests.append(self.rule(item))
                continue
            if len(item.path) == 2 and item.path[0] == "lead":
                field = self.bind(item.path[1])
                getter = self.bind(context_getter(item.path))
                value = f"(rules_lead.get({field}) if rules_lead is not None else "
                value += f"{getter}(context))"
            else:
                value = f"{self.bind(context_getter(item.path))}(context)"
            tests.append(f"{self.bind(condition_test(item))}({value}, context)")
        return f"({(' and ' if ruleset.match == 'all' else ' or ').join(tests)})"


@contextmanager
def same() -> Iterator[None]:
    """A block that adds nothing (the other arm of a conditional `with`)."""
    yield
