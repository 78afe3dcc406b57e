"""Mapping templates: Liquid (python-liquid), as the seeds write them.

    {{ lead.utm_campaign }}    {{ lead.touchpoints | join: ' > ' }}
    {% if lead.score >= 80 %}103{% endif %}    {{ now }}
    {{ lead.source_name | source_lookup }}

Safe by design: Liquid reads mappings and lists only, never Python attributes,
and this environment bounds loops, output and nesting. A template is compiled once
(cached by its text). The context is integrations.mapping.context's, plus the lead's
fields at the top level so the old `{{first_name}}` templates keep working, `now`
(the system time, ISO 8601), and `catalogue` (the account's, for the lookup filters).

Comparisons read numbers given as strings as numbers (`lead.score >= 80` with
"85"), as the rule module does; see _numeric_comparisons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from liquid import Environment
from liquid.builtin.expressions import logical
from liquid.exceptions import FilterError, LiquidError
from liquid.filter import with_context
from liquid.stringify import to_liquid_string

from .template_compiler import Compiled, LookupMiss, Scope, Unsupported, compile_template
from .values import as_text, parse_number

MAX_OUTPUT_CHARS = 16_384
MAX_LOOP_ITERATIONS = 1_000
MAX_TEMPLATE_CHARS = 2_000


class _Environment(Environment):
    loop_iteration_limit = MAX_LOOP_ITERATIONS
    output_stream_limit = MAX_OUTPUT_CHARS
    local_namespace_limit = 64 * 1024
    context_depth_limit = 10
    block_nesting_limit = 20


class TemplateError(ValueError):
    """A template that cannot be compiled or rendered; `message` is for the marketer
    (with the line and column when known)."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None):
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(message + where)
        self.message = message + where
        self.line = line
        self.column = column


# --- lookups: a name -> the account's id ---------------------------------------------

# filter name -> (catalogue lists to search, what the marketer calls them)
LOOKUPS: dict[str, tuple[tuple[str, ...], str]] = {
    "source_lookup": (("lead_sources",), "lead source"),
    "tag_lookup": (("tags",), "tag"),
    "owner_lookup": (("owners", "users"), "owner"),
    "user_lookup": (("users", "owners"), "user"),
    "workflow_lookup": (("workflows",), "workflow"),
    "campaign_lookup": (("campaigns",), "campaign"),
}


def catalogue_lookup(
    catalogue: Mapping[str, Any], lists: tuple[str, ...], name: Any, *, what: str
) -> str:
    """The id whose name is `name` (case and spaces ignored; an id is kept as it is).
    Raises TemplateError saying what was looked for when nothing matches."""
    wanted = as_text(name).casefold()
    if not wanted:
        return ""
    found_list = False
    for key in lists:
        items = catalogue.get(key)
        if not isinstance(items, list):
            continue
        found_list = True
        for item in items:
            if isinstance(item, str):  # a list of names (Keap contact types)
                if item.strip().casefold() == wanted:
                    return item.strip()
                continue
            if type(item) is not dict and not isinstance(item, Mapping):  # dict: no ABC check
                continue
            label = item.get("name")
            label = label.strip() if type(label) is str else as_text(label)  # as_text, inline
            if label.casefold() == wanted or as_text(item.get("id")) == wanted:
                return as_text(item.get("id"))
    raise _not_found(found_list, name, what)


def _not_found(found_list: bool, name: Any, what: str) -> TemplateError:
    if not found_list:
        return TemplateError(f"the account's catalogue has no {what}s: refresh the catalogue")
    shown = as_text(name)[:60]
    return TemplateError(f"no {what} named {shown!r} in the account's catalogue")


class CatalogueIndex:
    """catalogue_lookup for one catalogue that does not change (a StepConfig's: the
    step's memo counts on it too), each list read once into a dict: every name
    (folded) and id to the id of the first item that has it, as the scan finds it."""

    def __init__(self, catalogue: Mapping[str, Any]):
        self.catalogue = catalogue if isinstance(catalogue, Mapping) else {}
        self.ids: dict[tuple[str, ...], tuple[bool, dict[str, str]]] = {}

    def lookup(self, lists: tuple[str, ...], name: Any, *, what: str) -> str:
        wanted = as_text(name).casefold()
        if not wanted:
            return ""
        known = self.ids.get(lists)
        if known is None:
            known = self.ids[lists] = self._read(lists)
        found_list, ids = known
        found = ids.get(wanted)
        if found is None:
            raise _not_found(found_list, name, what)
        return found

    def _read(self, lists: tuple[str, ...]) -> tuple[bool, dict[str, str]]:
        found_list = False
        ids: dict[str, str] = {}
        for key in lists:
            items = self.catalogue.get(key)
            if not isinstance(items, list):
                continue
            found_list = True
            for item in items:
                if isinstance(item, str):
                    ids.setdefault(item.strip().casefold(), item.strip())
                elif isinstance(item, Mapping):
                    item_id = as_text(item.get("id"))
                    ids.setdefault(as_text(item.get("name")).casefold(), item_id)
                    ids.setdefault(item_id, item_id)
        ids.pop("", None)  # a blank name is never looked up
        return found_list, ids


def _lookup_filter(lists: tuple[str, ...], what: str) -> Callable[..., str]:
    @with_context
    def lookup(value: Any, *, context: Any) -> str:
        index = context.globals.get("catalogue_index")  # compiled templates of a step
        catalogue = context.globals.get("catalogue")
        try:
            if isinstance(index, CatalogueIndex):
                return index.lookup(lists, value, what=what)
            return catalogue_lookup(
                catalogue if isinstance(catalogue, Mapping) else {}, lists, value, what=what
            )
        except TemplateError as exc:
            raise FilterError(exc.message, token=None) from None

    return lookup


@with_context
def _generic_lookup(value: Any, list_name: Any, *, context: Any) -> str:
    """`{{ lead.x | lookup: "contact_types" }}`: any catalogue list by name."""
    catalogue = context.globals.get("catalogue")
    key = as_text(list_name)
    try:
        return catalogue_lookup(
            catalogue if isinstance(catalogue, Mapping) else {},
            (key,),
            value,
            what=key.rstrip("s").replace("_", " ") or "item",
        )
    except TemplateError as exc:
        raise FilterError(exc.message, token=None) from None


ENVIRONMENT = _Environment()
for _name, (_lists, _what) in LOOKUPS.items():
    ENVIRONMENT.add_filter(_name, _lookup_filter(_lists, _what))
ENVIRONMENT.add_filter("lookup", _generic_lookup)
_LOOKUP_FILTERS = frozenset({*LOOKUPS, "lookup"})  # they read only the catalogue


# --- numbers given as strings compare as numbers -------------------------------------


def _numeric_comparisons() -> None:
    """Liquid compares "85" >= 80 as a type error and "80" == 80 as false. Lead fields
    arrive as JSON strings, so, as in the rule module, a string that reads as a number
    compares as one when the other side is a number. python-liquid evaluates `==`,
    `<`, `<=` (and their mirrors) through these module functions."""

    def numeric(left: Any, right: Any) -> tuple[Any, Any]:
        if _is_number(right) and isinstance(left, str):
            parsed = _decimal(left)
            return (parsed if parsed is not None else left), right
        if _is_number(left) and isinstance(right, str):
            parsed = _decimal(right)
            return left, (parsed if parsed is not None else right)
        return left, right

    eq, lt, le = logical._eq, logical._lt, logical._le
    logical._eq = lambda left, right: eq(*numeric(left, right))
    logical._lt = lambda token, left, right: lt(token, *numeric(left, right))
    logical._le = lambda left, right: le(*numeric(left, right))


_NUMBER_TYPES = (int, float, Decimal)  # a tuple: isinstance is faster than with a union


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool)


def _decimal(text: str) -> Decimal | None:
    """parse_number's reading of `text` as a Decimal (of its shortest float repr)."""
    return (_decimal_kept if len(text) <= 256 else _decimal_of)(text)


def _decimal_of(text: str) -> Decimal | None:
    parsed = parse_number(text)
    return Decimal(str(parsed)) if parsed is not None else None


# A lead's score is compared lead after lead: the Decimal is kept by its text.
_decimal_kept = lru_cache(maxsize=1024)(_decimal_of)

_numeric_comparisons()


# --- compile, check, render ----------------------------------------------------------


_OUTPUT = re.compile(r"\{\{-?\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*-?\}\}")
_LIQUID_PROPERTIES = frozenset({"size", "first", "last", "now", "today"})
Part = str | tuple[str, ...]  # literal text, or a path to output


def _plain_parts(source: str) -> tuple[Part, ...] | None:
    """Text and `{{ a.b }}` outputs only (no filters, tags, indexes or Liquid's special
    properties): such a template renders by plain look-ups, as Liquid would, without
    Liquid's per-render overhead. None for anything else."""
    parts: list[Part] = []
    position = 0
    for match in _OUTPUT.finditer(source):
        if "-" in match.group(0)[:3] or "-" in match.group(0)[-3:]:
            return None  # whitespace control: leave it to Liquid
        path = tuple(match.group(1).split("."))
        if _LIQUID_PROPERTIES & set(path):
            return None
        parts += [source[position : match.start()], path]
        position = match.end()
    parts.append(source[position:])
    texts = "".join(p for p in parts if isinstance(p, str))
    if "{{" in texts or "{%" in texts:
        return None
    return tuple(p for p in parts if p != "")


def _plain_value(scope: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = scope
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


@dataclass(frozen=True)
class Template:
    source: str
    compiled: Any  # liquid.BoundTemplate
    plain: tuple[Part, ...] | None = None  # see _plain_parts
    # The common shapes as closures (template_compiler), None: Liquid renders it.
    fast: Compiled | None = None

    def render(
        self, context: Mapping[str, Any], *, catalogue: Mapping[str, Any] | None = None
    ) -> str:
        """Render with the lead context. Raises TemplateError (limits, a lookup that
        found nothing, a filter given the wrong kind of value)."""
        return self.render_for(Scope(context, catalogue))

    def render_for(self, scope: Scope) -> str:
        """Render for a lead's Scope (shared by a step's templates): by the compiled
        closures when the template has one, else (or when they step aside) as
        render_scope does. Both give the same text and the same errors."""
        if self.fast is not None:
            try:
                return self.fast.render(scope).strip()
            except LookupMiss as miss:
                if miss.written * 4 <= MAX_OUTPUT_CHARS:  # Liquid's limit not reached
                    miss.error.token = miss.token  # as Liquid's render loop does
                    raise _template_error(miss.error, self.source) from None
            except Exception:  # noqa: BLE001 - Fallback, or an error Liquid will report
                pass
        return self.render_scope(template_scope(scope.context, scope.catalogue))

    def inputs(self, scope: Scope) -> tuple[Any, ...] | None:
        """A key for memoising this template's result for one catalogue: equal keys,
        equal output (or error). None: do not memoise (see Compiled.inputs)."""
        return self.fast.key(scope) if self.fast is not None else None

    def render_scope(self, scope: Mapping[str, Any]) -> str:
        """Render with a scope from template_scope: the reference path (the plain
        look-ups below, else Liquid's interpreter)."""
        if self.plain is not None:
            out = "".join(
                part
                if isinstance(part, str)
                else to_liquid_string(_plain_value(scope, part), False)
                for part in self.plain
            )
            if len(out) > MAX_OUTPUT_CHARS:
                raise TemplateError("output stream limit reached")
            return out.strip()
        try:
            return str(self.compiled.render(scope)).strip()
        except LiquidError as exc:
            raise _template_error(exc, self.source) from None
        except (RecursionError, MemoryError, ArithmeticError, ValueError, TypeError) as exc:
            name = type(exc).__name__
            raise TemplateError(f"the template could not be rendered ({name})") from None


def template_scope(
    context: Mapping[str, Any], catalogue: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What templates see: the context, the lead's fields also at the top level (the
    old `{{first_name}}`), `now` (the system time) and the account's `catalogue`."""
    lead = context.get("lead")
    scope: dict[str, Any] = dict(lead) if isinstance(lead, Mapping) else {}
    scope.update(context)
    system = context.get("system")
    now = system.get("now") if isinstance(system, Mapping) else None
    if now:
        scope["now"] = now
    scope["catalogue"] = catalogue or {}
    return scope


def is_template(source: str) -> bool:
    return "{{" in source or "{%" in source


@lru_cache(maxsize=2048)
def template_compile(source: str) -> Template:
    """The compiled template (cached by its text). Raises TemplateError with the
    position of a syntax error or an unknown filter."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"a template holds at most {MAX_TEMPLATE_CHARS} characters")
    try:
        compiled = ENVIRONMENT.from_string(source)
        filters = compiled.analyze().filters
    except LiquidError as exc:
        raise _template_error(exc, source) from None
    except RecursionError:
        raise TemplateError("the template nests too deeply") from None
    # Liquid finds an unknown filter only when it renders: look for them now.
    for name, spans in filters.items():
        if name not in ENVIRONMENT.filters:
            raise _position(f"unknown filter {name!r}", source, spans[0].index if spans else -1)
    try:
        fast = compile_template(compiled.nodes, ENVIRONMENT, lookup_filters=_LOOKUP_FILTERS)
    except Unsupported:
        fast = None
    return Template(source, compiled, _plain_parts(source), fast)


def template_check(source: str) -> list[str]:
    """Save-time validation: the problems of `source` ("" if none), each with its
    position. For the admin form and the studio's editor."""
    try:
        template_compile(source)
    except TemplateError as exc:
        return [exc.message]
    return []


def _template_error(exc: LiquidError, source: str) -> TemplateError:
    message = str(getattr(exc, "message", "") or exc).split("\n", 1)[0]
    token = getattr(exc, "token", None)
    index = getattr(token, "start_index", -1) if token is not None else -1
    return _position(message, source, index)


def _position(message: str, source: str, index: Any) -> TemplateError:
    if "end of" in message and (not isinstance(index, int) or index < 0):
        index = len(source)  # an unclosed block: liquid reports no position
    if not isinstance(index, int) or index < 0 or index > len(source):
        return TemplateError(message)
    line = source.count("\n", 0, index) + 1
    column = index - (source.rfind("\n", 0, index) + 1) + 1
    return TemplateError(message, line=line, column=column)


def render(template: str, fields: Mapping[str, Any]) -> str:
    """Render `template` against a lead's fields only (no system fields, no catalogue).
    Kept for callers of the old renderer."""
    return template_compile(template).render({"lead": fields})


def lookup(fields: Mapping[str, Any], name: str) -> Any:
    """A lead field by name; dotted names reach into nested objects."""
    from .context import context_value

    if name in fields:
        return fields[name]
    return context_value(fields, name)
