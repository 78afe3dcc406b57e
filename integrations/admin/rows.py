"""The rows of the big lists (deliveries, leads), the HTML Django's admin renders
(`admin_list.items_for_result`), worked out per column once a page instead of per
cell: each column's kind, CSS class, empty text and choice labels, the change link's
prefix and preserved filters, the names of the related objects a page repeats (its
steps, its flows). Django's renderer spends over a millisecond a row, most of a
50-row page; this spends a few hundredths of that. A list with editable columns, a
popup or a `to_field` gets Django's own renderer (tests/health/test_list_rows.py holds
the two to the same output).
"""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Callable
from typing import Any

from django.contrib.admin import ModelAdmin
from django.contrib.admin.templatetags.admin_list import (  # type: ignore[attr-defined]
    ResultList,
    _boolean_icon,  # the helpers items_for_result uses, for the same output
    _coerce_field_name,
    result_headers,
    result_hidden_fields,
    results,
)
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import (  # type: ignore[attr-defined]
    FieldIsAForeignKeyColumnName,
    _get_non_gfk_field,
    display_for_field,
    display_for_value,
    lookup_field,
)
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import formats
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

Cell = Callable[[models.Model], str]

# A primary key that URL quoting and the admin's quote() leave as it is (integers,
# UUIDs): its change URL is the prefix + pk + suffix. Any other goes through reverse().
PLAIN_PK = re.compile(r"[A-Za-z0-9-]+")
PK_MARK = "PKMARK9317"


def result_list_context(cl: ChangeList) -> dict[str, Any]:
    """What the admin's `result_list` tag gives change_list_results.html, the rows
    rendered here. Each row is one pre-joined item (the template concatenates them)."""
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
        "results": result_rows(cl),
    }


def result_rows(cl: ChangeList) -> list[ResultList]:
    if getattr(cl, "formset", None) or cl.is_popup or cl.to_field:
        return list(results(cl))
    link = _ChangeLink(cl)
    linked = _linked_columns(cl)
    first = min(linked, default=-1)
    cells = [
        _column(cl, index, name, tag=_tag(index, linked, first), link=link)
        for index, name in enumerate(cl.list_display)
    ]
    return [
        ResultList(None, [mark_safe("".join([cell(obj) for cell in cells]))])
        for obj in cl.result_list
    ]


def _tag(index: int, linked: set[int], first: int) -> str:
    """A linked column's cell: `th` for the first, `td` for others; "" if not linked."""
    return "" if index not in linked else "th" if index == first else "td"


def _linked_columns(cl: ChangeList) -> set[int]:
    """The columns items_for_result links to the change page (the first one a `th`)."""
    if cl.list_display_links is None:
        return set()
    if not cl.list_display_links:
        return {0}
    return {i for i, name in enumerate(cl.list_display) if name in cl.list_display_links}


class _ChangeLink:
    """`cl.url_for_result` + the preserved filters, reversed once a page."""

    def __init__(self, cl: ChangeList):
        self.cl = cl
        self.suffix: str | None = None
        try:
            url = reverse(
                f"admin:{cl.opts.app_label}_{cl.opts.model_name}_change",
                args=(PK_MARK,),
                current_app=cl.model_admin.admin_site.name,
            )
        except NoReverseMatch:
            self.parts: list[str] = []
        else:
            self.parts = url.split(PK_MARK)
            if len(self.parts) == 2:
                # The same for every row: the query string of the list's filters.
                preserved = self._preserve(url)
                if preserved.startswith(url):
                    self.suffix = preserved[len(url) :]

    def _preserve(self, url: str) -> str:
        context: dict[str, Any] = {
            "preserved_filters": self.cl.preserved_filters,
            "opts": self.cl.opts,
        }
        return add_preserved_filters(context, url)

    def url(self, obj: models.Model) -> str:
        """Raises NoReverseMatch as url_for_result would."""
        pk = str(getattr(obj, self.cl.pk_attname))
        if self.suffix is not None and PLAIN_PK.fullmatch(pk):
            return f"{self.parts[0]}{pk}{self.parts[1]}{self.suffix}"
        return self._preserve(self.cl.url_for_result(obj))


def _escape(value: Any) -> str:
    """django.utils.html.escape's output, without its lazy-string wrapper."""
    return html.escape(str(value))


def _html(value: Any) -> str:
    """conditional_escape's output (safe strings as they are), without its wrappers."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def _class_attr(classes: list[str]) -> str:
    return f' class="{" ".join(classes)}"'


def _column(cl: ChangeList, index: int, name: Any, *, tag: str, link: _ChangeLink) -> Cell:
    """One column's cell renderer; `tag` names the cell that links to the change page."""
    model_admin = cl.model_admin
    empty = model_admin.get_empty_value_display()
    css = [f"field-{_coerce_field_name(name, index)}"]
    try:
        field = _get_non_gfk_field(cl.lookup_opts, name)
    except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
        field = None

    if field is None:
        if name == "action_checkbox" and _default_checkbox(model_admin):
            return _checkbox_cell()
        if name == "action_checkbox":
            css = ["action-checkbox"]
        display = _value_display(cl, name, empty)
        plain_class = _class_attr(css)
        nowrap_class = _class_attr([*css, "nowrap"])

        def value_cell(obj: models.Model) -> str:
            html, is_date = display(obj)
            return _wrap(obj, nowrap_class if is_date else plain_class, html, tag, link)

        return value_cell

    if field.auto_created:  # the automatic primary key: shown as a value, not a field
        css_attr = _class_attr(css)
        attname = field.attname
        as_number = _number_display()

        def key_cell(obj: models.Model) -> str:
            value = getattr(obj, attname)
            return _wrap(obj, css_attr, as_number(value, empty), tag, link)

        return key_cell

    if isinstance(field, (models.DateField, models.TimeField, models.ForeignKey)):
        css.append("nowrap")
    css_attr = _class_attr(css)

    if isinstance(field.remote_field, models.ManyToOneRel):
        names: dict[Any, str] = {}  # the related objects a page repeats, named once
        fk_name, fk_attname = field.name, field.attname

        def related_cell(obj: models.Model) -> str:
            key = getattr(obj, fk_attname)
            text: str
            if key is None:
                text = empty
            elif key in names:
                text = names[key]
            else:
                try:
                    text = names[key] = _html(getattr(obj, fk_name))
                except ObjectDoesNotExist:
                    text = empty
            return _wrap(obj, css_attr, text, tag, link)

        return related_cell

    field_display = _field_display(field, empty, avoid_link=bool(tag))
    attname = field.attname

    def field_cell(obj: models.Model) -> str:
        value = getattr(obj, attname)
        if isinstance(value, str) and value.strip() == "":
            value = ""
        return _wrap(obj, css_attr, field_display(value), tag, link)

    return field_cell


def _wrap(obj: models.Model, css_attr: str, value: Any, tag: str, link: _ChangeLink) -> str:
    """`<td class>html</td>`, or the change link in its `th`/`td` (as items_for_result)."""
    shown = _html(value)
    if not tag:
        return f"<td{css_attr}>{shown}</td>"
    try:
        url = link.url(obj)
    except NoReverseMatch:
        inner = shown
    else:
        inner = f'<a href="{_escape(url)}">{shown}</a>'
    return f"<{tag}{css_attr}>{inner}</{tag}>"


def _default_checkbox(model_admin: ModelAdmin) -> bool:
    return type(model_admin).action_checkbox is ModelAdmin.action_checkbox


def _checkbox_cell() -> Cell:
    """ModelAdmin.action_checkbox's CheckboxInput, without a template render a row."""
    label = gettext("Select this object for an action - {}")
    prefix, _, suffix = label.partition("{}")
    prefix, suffix = _escape(prefix), _escape(suffix)

    def cell(obj: models.Model) -> str:
        return (
            '<td class="action-checkbox"><input type="checkbox" name="_selected_action"'
            f' value="{_escape(obj.pk)}" class="action-select"'
            f' aria-label="{prefix}{_escape(obj)}{suffix}"></td>'
        )

    return cell


def _value_display(
    cl: ChangeList, name: Any, empty: str
) -> Callable[[models.Model], tuple[Any, bool]]:
    """A column that is not a model field: a ModelAdmin method (bound once), or
    whatever lookup_field finds. Returns the shown value and whether it is a date."""
    model_admin = cl.model_admin
    method = None
    if not callable(name) and name != "__str__" and hasattr(model_admin, name):
        method = getattr(model_admin, name)
    attr = method if method is not None else (name if callable(name) else None)
    if attr is None and hasattr(cl.model, name):
        attr = getattr(cl.model, name)
    column_empty = getattr(attr, "empty_value_display", empty)
    boolean = getattr(attr, "boolean", False)
    if isinstance(attr, property) and hasattr(attr, "fget"):
        boolean = getattr(attr.fget, "boolean", False)

    def display(obj: models.Model) -> tuple[Any, bool]:
        try:
            value = method(obj) if method is not None else lookup_field(name, obj, model_admin)[2]
        except ObjectDoesNotExist:
            return empty, False
        if isinstance(value, str) and not boolean:  # display_for_value's answer for text
            return (value if value.strip() else column_empty), False
        is_date = isinstance(value, (datetime.date, datetime.time))
        return display_for_value(value, column_empty, boolean), is_date

    return display


def _number_display() -> Callable[[Any, str], Any]:
    """display_for_value for the primary key: integers as number_format shows them
    (plain digits unless thousand separators are on: then number_format itself)."""
    plain = formats.number_format(-1234567) == "-1234567"

    def display(value: Any, empty: str) -> Any:
        if plain and type(value) is int:
            return str(value)
        return display_for_value(value, empty)

    return display


def _field_display(field: models.Field, empty: str, *, avoid_link: bool) -> Callable[[Any], Any]:
    """display_for_field with the per-field work done once: choice labels, boolean
    icons, plain integers."""
    if getattr(field, "flatchoices", None):
        try:
            labels = dict(field.flatchoices)
        except TypeError:
            labels = None
        if labels is not None:
            return lambda value: _label(labels, value, empty, field, avoid_link)
    if isinstance(field, (models.CharField, models.TextField)) and not isinstance(
        field, models.URLField
    ):  # display_for_value's answer for text (the caller has blanked whitespace)
        return lambda value: empty if value in ("", None) else str(value)
    if isinstance(field, models.BooleanField):
        icons = {value: _boolean_icon(value) for value in (True, False, None)}
        return lambda value: icons[value] if value in icons else _boolean_icon(value)
    if isinstance(field, models.IntegerField) and formats.number_format(-1234567) == "-1234567":
        return lambda value: (
            empty
            if value is None
            else str(value)
            if type(value) is int
            else display_for_field(value, field, empty, avoid_link)
        )
    return lambda value: display_for_field(value, field, empty, avoid_link)


def _label(labels: dict, value: Any, empty: str, field: models.Field, avoid_link: bool) -> Any:
    try:
        return labels.get(value, empty)
    except TypeError:  # an unhashable value: Django's own path
        return display_for_field(value, field, empty, avoid_link)
