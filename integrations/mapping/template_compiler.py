"""Liquid templates of the common shapes, rendered by plain closures instead of Liquid's
interpreter, from the tree python-liquid parsed (so the syntax, whitespace control and
blank blocks are Liquid's own):

    text   {{ a.b }}   {{ a.b | filter: 'x', 1 }}   {% if a.b >= 80 and c %}..{% elsif %}
    ..{% else %}..{% endif %}   {% for x in a.b %}..{% else %}..{% endfor %}

Each closure does what the Liquid node it replaces does, calling Liquid's own filter
functions, comparisons (with templates.py's numbers-as-strings) and stringify, so a
render gives the same text. Names are looked up where template_scope would put them
(the catalogue, `now`, the context, then the lead's fields), without building that
scope. A template with anything else (other tags, `forloop`, `.size`, ranges, nested
loops, a filter that wants Liquid's render context) does not compile here: Liquid
renders it. At render time, a value or a failure this module does not mirror (an
unusual iterable, an error other than a lookup that found nothing, output near the
limit) raises Fallback, and Liquid renders the template instead.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from typing import Any

from liquid import Environment
from liquid.ast import BlockNode
from liquid.builtin.content import ContentNode
from liquid.builtin.expressions import logical
from liquid.builtin.expressions.filtered import Filter, FilteredExpression
from liquid.builtin.expressions.path import Path
from liquid.builtin.expressions.primitive import (
    Blank,
    Empty,
    FalseLiteral,
    FloatLiteral,
    IntegerLiteral,
    Nil,
    StringLiteral,
    TrueLiteral,
)
from liquid.builtin.filters import array as builtin_array
from liquid.builtin.filters import string as builtin_string
from liquid.builtin.filters.misc import date as builtin_date
from liquid.builtin.output import OutputNode
from liquid.builtin.tags.for_tag import ForNode
from liquid.builtin.tags.if_tag import IfNode
from liquid.context import _segments_str
from liquid.exceptions import FilterError
from liquid.stringify import to_liquid_string
from liquid.undefined import Undefined


class Unsupported(Exception):
    """The template has a shape this module does not render (Liquid will)."""


class Fallback(Exception):
    """At render time: let Liquid render this template."""


class LookupMiss(Exception):
    """A catalogue lookup filter found nothing: Liquid would stop with `error` at the
    top-level node whose token is `token`."""

    def __init__(self, error: FilterError, token: Any, written: int):
        super().__init__(str(error))
        self.error = error
        self.token = token
        self.written = written


class Scope:
    """What a template reads, for one lead: template_scope's names, looked up lazily."""

    __slots__ = ("context", "lead", "catalogue", "now", "loop", "lookups")

    def __init__(
        self,
        context: Mapping[str, Any],
        catalogue: Mapping[str, Any] | None,
        lookups: LookupContext | None = None,
    ):
        self.context = context
        # What the lookup filters read (a step passes one, with its catalogue's index).
        self.lookups = lookups
        lead = context.get("lead")
        self.lead = lead if type(lead) is dict or isinstance(lead, Mapping) else None
        self.catalogue = catalogue or {}
        system = context.get("system")
        if type(system) is dict or isinstance(system, Mapping):
            now = system.get("now")
        else:
            now = None
        self.now = now if now else None
        self.loop: dict[str, Any] = {}


class LookupContext:
    """The one thing a lookup filter reads of Liquid's render context: the catalogue,
    and for a step's templates an index of it (templates.CatalogueIndex)."""

    __slots__ = ("globals",)

    def __init__(self, catalogue: Mapping[str, Any], index: Any = None):
        self.globals = {"catalogue": catalogue, "catalogue_index": index}


Expr = Callable[[Scope], Any]
Write = Callable[[Scope, list[str]], None]
_MISSING = object()
_RESERVED_ROOTS = frozenset({"partial", "template", "forloop"})  # Liquid's own names
_SPECIAL_KEYS = frozenset({"size", "first", "last"})


class Compiled:
    """A template's render function, and its inputs for memoising (see `inputs`)."""

    __slots__ = ("render", "key", "memoisable")

    def __init__(self, render: Callable[[Scope], str], paths: tuple[Expr, ...] | None):
        self.render = render
        # key(scope): everything the output depends on, as a hashable key: the value
        # of each path the template reads (outside loops' own variables), a string
        # as itself, anything else tagged with its type (so 1, 1.0 and true differ).
        # None when the template or a value does not allow one (`now`, the date
        # filter, an object, a nested list).
        self.key: Callable[[Scope], Any] = _keyer(paths)
        self.memoisable = paths is not None


def _keyer(paths: tuple[Expr, ...] | None) -> Callable[[Scope], Any]:
    if paths is None:
        return lambda scope: None
    if len(paths) == 1:
        (only,) = paths

        def key_one(scope: Scope) -> Any:
            value = only(scope)
            if type(value) is str:
                return value
            try:
                return _frozen(value)
            except _NotKeyable:
                return None

        return key_one

    if len(paths) == 2:
        first, second = paths

        def key_two(scope: Scope) -> Any:
            try:
                return (_frozen(first(scope)), _frozen(second(scope)))
            except _NotKeyable:
                return None

        return key_two

    def key_many(scope: Scope) -> Any:
        try:
            return tuple(_frozen(path(scope)) for path in paths)
        except _NotKeyable:
            return None

    return key_many


class _NotKeyable(Exception):
    pass


_SCALARS = (str, int, float, bool, type(None))
_UNDEFINED_KEY = ("undefined",)


def _frozen(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return (kind, value)
    if kind is list or kind is tuple:
        return (kind, tuple(map(_frozen_scalar, value)))
    if isinstance(value, Undefined):
        return _UNDEFINED_KEY
    raise _NotKeyable


def _frozen_scalar(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return (kind, value)
    raise _NotKeyable


def compile_template(
    nodes: list[Any],
    env: Environment,
    *,
    lookup_filters: frozenset[str],
) -> Compiled:
    """The render function for a parsed template's top-level `nodes`. Raises
    Unsupported for a shape it does not render. `lookup_filters`: the names of the
    filters that only read the catalogue from Liquid's context."""
    compiler = _Compiler(env, lookup_filters)
    limit = env.output_stream_limit
    if len(nodes) == 1 and type(nodes[0]) is OutputNode:  # `{{ x | f }}` alone
        value, token = compiler.filtered(nodes[0].expression, ()), nodes[0].token

        def render_one(scope: Scope) -> str:
            try:
                result = value(scope)
            except _Miss as miss:
                raise LookupMiss(miss.error, token, 0) from None
            text = result if type(result) is str else to_liquid_string(result, False)
            if limit is not None and len(text) * 4 > limit and len(text.encode()) > limit:
                raise Fallback("output near the limit")
            return text

        return Compiled(render_one, None if compiler.impure else tuple(compiler.paths))
    writers = [(compiler.node(node, loop_names=()), node.token) for node in nodes]

    def render(scope: Scope) -> str:
        out: list[str] = []
        for write, token in writers:
            try:
                write(scope, out)
            except _Miss as miss:
                raise LookupMiss(miss.error, token, sum(len(p) for p in out)) from None
        text = "".join(out)
        if limit is not None and len(text) * 4 > limit and len(text.encode()) > limit:
            raise Fallback("output near the limit")
        return text

    return Compiled(render, None if compiler.impure else tuple(compiler.paths))


class _Miss(Exception):
    def __init__(self, error: FilterError):
        self.error = error


class _Compiler:
    def __init__(self, env: Environment, lookup_filters: frozenset[str]):
        self.env = env
        self.lookup_filters = lookup_filters
        self.paths: list[Expr] = []  # the paths read outside loop variables
        self.impure = False  # the output can change with the clock alone

    # --- nodes ---------------------------------------------------------------------

    def node(self, node: Any, *, loop_names: tuple[str, ...]) -> Write:
        kind = type(node)
        if kind is ContentNode:
            text = node.text
            return lambda scope, out: out.append(text)
        if kind is OutputNode:
            value = self.filtered(node.expression, loop_names)

            def output(scope: Scope, out: list[str]) -> None:
                text = value(scope)
                out.append(text if type(text) is str else to_liquid_string(text, False))

            return output
        if kind is IfNode:
            return self.if_node(node, loop_names)
        if kind is ForNode:
            return self.for_node(node, loop_names)
        raise Unsupported(type(node).__name__)

    def block(self, block: BlockNode, loop_names: tuple[str, ...]) -> Write:
        writers = [self.node(n, loop_names=loop_names) for n in block.nodes]
        if self.env.suppress_blank_control_flow_blocks and block.blank:

            def blank(scope: Scope, out: list[str]) -> None:
                discarded: list[str] = []
                for write in writers:
                    write(scope, discarded)

            return blank

        def write_all(scope: Scope, out: list[str]) -> None:
            for write in writers:
                write(scope, out)

        return write_all

    def if_node(self, node: IfNode, loop_names: tuple[str, ...]) -> Write:
        branches = [
            (self.boolean(node.condition, loop_names), self.block(node.consequence, loop_names))
        ]
        for alternative in node.alternatives:
            branches.append(
                (
                    self.boolean(alternative.expression, loop_names),
                    self.block(alternative.block, loop_names),
                )
            )
        default = self.block(node.default, loop_names) if node.default else None

        def write(scope: Scope, out: list[str]) -> None:
            for condition, block in branches:
                if condition(scope):
                    block(scope, out)
                    return
            if default is not None:
                default(scope, out)

        return write

    def for_node(self, node: ForNode, loop_names: tuple[str, ...]) -> Write:
        loop = node.expression
        if loop_names or loop.limit is not None or loop.offset is not None:
            raise Unsupported("nested loop, limit or offset")
        if loop.reversed or loop.cols is not None:
            raise Unsupported("reversed or cols")
        name = str(loop.identifier)  # a plain str: Identifier hashes in Python, per look-up
        if name in _RESERVED_ROOTS:
            raise Unsupported("a reserved loop name")
        iterable = self.expression(loop.iterable, loop_names)
        body = self.block(node.block, (name,))
        default = self.block(node.default, loop_names) if node.default else None
        limit = self.env.loop_iteration_limit

        def write(scope: Scope, out: list[str]) -> None:
            items = iterable(scope)
            if type(items) is list or type(items) is tuple:
                length = len(items)
            elif items is None or isinstance(items, Undefined):
                length = 0  # Liquid iterates nothing
            else:
                raise Fallback("an iterable other than a list")
            if not length:
                if default is not None:
                    default(scope, out)
                return
            if limit and length > limit:
                raise Fallback("loop limit")
            saved = scope.loop.get(name, _MISSING)
            try:
                for item in items:
                    scope.loop[name] = item
                    body(scope, out)
            finally:
                if saved is _MISSING:
                    scope.loop.pop(name, None)
                else:
                    scope.loop[name] = saved

        return write

    # --- expressions ----------------------------------------------------------------

    def filtered(self, expression: Any, loop_names: tuple[str, ...]) -> Expr:
        if type(expression) is not FilteredExpression:
            raise Unsupported(type(expression).__name__)
        left = self.expression(expression.left, loop_names)
        filters = [self.filter(f, loop_names) for f in expression.filters or ()]
        if not filters:
            return left
        if len(filters) == 1:
            only = filters[0]
            return lambda scope: only(left(scope), scope)

        def evaluate(scope: Scope) -> Any:
            value = left(scope)
            for apply in filters:
                value = apply(value, scope)
            return value

        return evaluate

    def filter(self, node: Filter, loop_names: tuple[str, ...]) -> Callable[[Any, Scope], Any]:
        func = self.env.filters.get(node.name)
        if func is None:
            raise Unsupported(f"unknown filter {node.name}")
        if node.name == "date":
            self.impure = True  # "now" | date reads the clock
        positional: list[Expr] = []
        keywords: list[tuple[str, Expr]] = []
        for arg in node.args:
            value = self.expression(arg.value, loop_names)
            keyword = getattr(arg, "name", None)
            if keyword:
                keywords.append((keyword, value))
            else:
                positional.append(value)
        if func is builtin_date and len(positional) == 1 and not keywords:
            func = partial(_date, environment=self.env)
            fmt = node.args[0].value
            if isinstance(fmt, StringLiteral):  # _date's first case, its format known now
                numeric = _numeric_format(fmt.value)
                if numeric is not None:
                    return _numeric_date(numeric, func, fmt.value)
        elif getattr(func, "with_environment", False):
            func = partial(func, environment=self.env)
        lookup = node.name in self.lookup_filters
        if getattr(func, "with_context", False) and not lookup:
            raise Unsupported("a filter that reads Liquid's render context")
        fast = _fast_filter(func, positional, keywords, self.env)
        if fast is not None:
            return fast
        if not lookup and not keywords:
            if not positional:
                return lambda value, scope: func(value)
            if len(positional) == 1:
                first = positional[0]
                return lambda value, scope: func(value, first(scope))
        if lookup and not positional and not keywords:  # `| source_lookup`

            def look_up(value: Any, scope: Scope) -> Any:
                try:
                    return func(value, context=scope.lookups or LookupContext(scope.catalogue))
                except FilterError as exc:
                    if type(exc) is not FilterError:
                        raise
                    raise _Miss(exc) from None

            return look_up

        def apply(value: Any, scope: Scope) -> Any:
            args = [p(scope) for p in positional]
            kwargs = {k: v(scope) for k, v in keywords}
            if lookup:
                kwargs["context"] = scope.lookups or LookupContext(scope.catalogue)
                try:
                    return func(value, *args, **kwargs)
                except FilterError as exc:
                    if type(exc) is not FilterError:
                        raise
                    raise _Miss(exc) from None
            return func(value, *args, **kwargs)

        return apply

    def boolean(self, expression: Any, loop_names: tuple[str, ...]) -> Callable[[Scope], bool]:
        if type(expression) is not logical.BooleanExpression:
            raise Unsupported(type(expression).__name__)
        inner = self.logical(expression.expression, loop_names)
        is_truthy = logical.is_truthy

        def holds(scope: Scope) -> bool:
            value = inner(scope)
            return value if value is True or value is False else is_truthy(value)

        return holds

    def logical(self, node: Any, loop_names: tuple[str, ...]) -> Expr:
        kind = type(node)
        if kind is logical.LogicalNotExpression:
            right = self.logical(node.right, loop_names)
            return lambda scope: not logical.is_truthy(right(scope))
        if kind is logical.LogicalAndExpression or kind is logical.LogicalOrExpression:
            left = self.logical(node.left, loop_names)
            right = self.logical(node.right, loop_names)
            truthy = logical.is_truthy
            if kind is logical.LogicalAndExpression:  # the right side only when needed
                return lambda scope: truthy(left(scope)) and truthy(right(scope))
            return lambda scope: truthy(left(scope)) or truthy(right(scope))
        if kind in _BINARY:
            left = self.logical(node.left, loop_names)
            right = self.logical(node.right, loop_names)
            return _BINARY[kind](node.token, left, right)
        return self.expression(node, loop_names)

    def expression(self, node: Any, loop_names: tuple[str, ...]) -> Expr:
        kind = type(node)
        if kind in (StringLiteral, IntegerLiteral, FloatLiteral, TrueLiteral, FalseLiteral):
            if kind is StringLiteral and self.env.autoescape:
                raise Unsupported("autoescape")
            constant = node.value
            return lambda scope: constant
        if kind is Nil:
            return lambda scope: None
        if kind in (Empty, Blank):
            return lambda scope: node
        if kind is Path:
            return self.path(node, loop_names)
        raise Unsupported(kind.__name__)

    def two_part_path(self, root: str, last: tuple[Any, str], root_hint: str, token: Any) -> Expr:
        """`lead.x`: path() below for a root found in the context or the lead's
        fields and one segment, without the general loop."""
        segment, hint = last
        undefined = self.env.undefined
        by_index = isinstance(segment, int)

        def resolve(scope: Scope) -> Any:
            context = scope.context
            if root in context:
                value = context[root]
            elif scope.lead is not None and root in scope.lead:
                value = scope.lead[root]
            else:
                return undefined(root, hint=root_hint, token=token)
            if type(value) is dict and not by_index:
                if segment in value:
                    return value[segment]
                return undefined(root, hint=hint, token=token)
            if by_index and isinstance(value, str):
                return undefined(root, hint=hint, token=token)
            try:
                return value[segment]
            except (KeyError, TypeError):
                return undefined(root, hint=hint, token=token)
            except IndexError:
                return undefined(root, hint="index out of range", token=token)

        return resolve

    def path(self, node: Path, loop_names: tuple[str, ...]) -> Expr:
        segments: list[object] = list(node.path)
        root = segments[0]
        if not isinstance(root, str) or (root in _RESERVED_ROOTS and root not in loop_names):
            raise Unsupported("a Liquid name")
        for segment in segments[1:]:
            if isinstance(segment, str) and segment in _SPECIAL_KEYS:
                raise Unsupported(".size, .first, .last")
            if not isinstance(segment, str | int) or isinstance(segment, bool):
                raise Unsupported("a nested path")
        token, undefined = node.token, self.env.undefined
        root_hint = f"{root!r} is undefined"
        hints = [f"{_segments_str(segments[: i + 2])} is undefined" for i in range(len(segments))]
        rest = [(s, hints[i]) for i, s in enumerate(segments[1:])]
        get_root = _root_getter(root, in_loop=root in loop_names)
        if root in ("now", "today"):
            self.impure = True
        if len(rest) == 1 and root not in loop_names and root not in _BUILT_IN_ROOTS:
            resolve_two = self.two_part_path(root, rest[0], root_hint, token)
            self.paths.append(resolve_two)
            return resolve_two

        def resolve(scope: Scope) -> Any:
            value = get_root(scope)
            if value is _MISSING:
                return undefined(root, hint=root_hint, token=token)
            for segment, hint in rest:
                if isinstance(segment, int) and isinstance(value, str):
                    return undefined(root, hint=hint, token=token)
                try:
                    value = value[segment]
                except (KeyError, TypeError):
                    return undefined(root, hint=hint, token=token)
                except IndexError:
                    return undefined(root, hint="index out of range", token=token)
            return value

        if root not in loop_names:
            self.paths.append(resolve)
        return resolve


_STRING_METHODS = {
    builtin_string.upcase: str.upper,
    builtin_string.downcase: str.lower,
    builtin_string.capitalize: str.capitalize,
}


def _fast_filter(
    func: Any, positional: list[Expr], keywords: list[tuple[str, Expr]], env: Environment
) -> Callable[[Any, Scope], Any] | None:
    """Liquid's upcase, downcase and capitalize on a string, and join of a flat list of
    strings by a string, done directly (the filter itself for anything else)."""
    if keywords:
        return None
    method = _STRING_METHODS.get(func)
    if method is not None and not positional:
        return lambda value, scope: method(value) if type(value) is str else func(value)
    join = getattr(func, "func", None)
    if join is builtin_array.join and len(positional) == 1 and not env.autoescape:
        separator = positional[0]

        def join_strings(value: Any, scope: Scope) -> Any:
            sep = separator(scope)
            if type(value) is list and type(sep) is str:
                for item in value:
                    if type(item) is not str:
                        break
                else:
                    return sep.join(value)
            return func(value, sep)

        return join_strings
    return None


_BUILT_IN_ROOTS = frozenset({"catalogue", "now", "today"})


def _date(value: Any, fmt: Any, *, environment: Environment) -> Any:
    """Liquid's date filter; for a datetime (`now`) and a format string it comes down
    to strftime, called here directly."""
    if type(value) is datetime.datetime and type(fmt) is str:
        numeric = _numeric_format(fmt)
        if numeric is not None and value.year >= 1000:  # %Y: four digits, as strftime
            return numeric(value)
        return value.strftime(fmt)
    return builtin_date(value, fmt, environment=environment)


# strftime's numeric directives, as str.format fields of the datetime: the same digits
# (zero-padded, https://docs.python.org/3/library/datetime.html#format-codes), not
# read from the locale, without strftime's cost (a time tuple and a C call per render).
_NUMERIC_DIRECTIVES = {
    "Y": "{0.year}",
    "m": "{0.month:02d}",
    "d": "{0.day:02d}",
    "H": "{0.hour:02d}",
    "M": "{0.minute:02d}",
    "S": "{0.second:02d}",
    "%": "%",
}


@lru_cache(maxsize=64)
def _numeric_format(fmt: str) -> Callable[[datetime.datetime], str] | None:
    """strftime(fmt) for a date-time of a four-digit year when `fmt` holds only the
    directives above and literal text; None for anything else (strftime reads it)."""
    if fmt == "%Y-%m-%d":
        return _iso_date
    template = _format_template(fmt)
    return None if template is None else template.format


def _numeric_date(
    numeric: Callable[[datetime.datetime], str], date: Callable[[Any, Any], Any], fmt: str
) -> Callable[[Any, Scope], Any]:
    def apply(value: Any, scope: Scope) -> Any:
        if type(value) is datetime.datetime and value.year >= 1000:
            return numeric(value)
        return date(value, fmt)

    return apply


def _iso_date(moment: datetime.datetime) -> str:
    return moment.date().isoformat()


def _format_template(fmt: str) -> str | None:
    parts: list[str] = []
    position = 0
    while position < len(fmt):
        char = fmt[position]
        if char != "%":
            parts.append("{{" if char == "{" else "}}" if char == "}" else char)
            position += 1
            continue
        field = _NUMERIC_DIRECTIVES.get(fmt[position + 1 : position + 2])
        if field is None:
            return None
        parts.append(field)
        position += 2
    return "".join(parts)


def _root_getter(name: str, *, in_loop: bool) -> Callable[[Scope], Any]:
    """Liquid's scope order for template_scope's render: loop variables, then the
    globals (catalogue, `now` when the system has one, the context, the lead's fields),
    then Liquid's built-in `now` / `today`."""
    if in_loop:
        return lambda scope: scope.loop[name]
    if name == "catalogue":
        return lambda scope: scope.catalogue

    def get(scope: Scope) -> Any:
        if name == "now" and scope.now is not None:
            return scope.now
        context = scope.context
        if name in context:
            return context[name]
        lead = scope.lead
        if lead is not None and name in lead:
            return lead[name]
        if name == "now":
            return datetime.datetime.now()
        if name == "today":
            return datetime.date.today()
        return _MISSING

    return get


def _left_first(
    compare: Callable[[Any, Any, Any], Any],
) -> Callable[[Any, Expr, Expr], Expr]:
    def build(token: Any, left: Expr, right: Expr) -> Expr:
        return lambda scope: compare(token, left(scope), right(scope))

    return build


def _right_first(
    compare: Callable[[Any, Any, Any], Any],
) -> Callable[[Any, Expr, Expr], Expr]:
    def build(token: Any, left: Expr, right: Expr) -> Expr:
        def evaluate(scope: Scope) -> Any:
            second = right(scope)
            return compare(token, left(scope), second)

        return evaluate

    return build


# Liquid's comparison classes -> what their evaluate() returns (operands evaluated
# in the same order), looked up in the logical module at call time: templates.py
# replaces _eq, _lt and _le there.
_BINARY: dict[type, Callable[[Any, Expr, Expr], Expr]] = {
    logical.EqExpression: _left_first(lambda t, a, b: logical._eq(a, b)),
    logical.NeExpression: _left_first(lambda t, a, b: not logical._eq(a, b)),
    logical.LeExpression: _left_first(lambda t, a, b: logical._le(a, b)),
    logical.GeExpression: _left_first(lambda t, a, b: logical._le(b, a)),
    logical.LtExpression: _left_first(lambda t, a, b: logical._lt(t, a, b)),
    logical.GtExpression: _right_first(lambda t, a, b: logical._lt(t, b, a)),
    logical.ContainsExpression: _left_first(lambda t, a, b: logical._contains(t, a, b)),
}
