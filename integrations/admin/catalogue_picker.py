"""A catalogue picker: a plain `<select>` of the account's catalogue (tags, custom
fields, sequences, owners, ...) that Django admin's own select2 turns into a type-ahead.

Every option is in the HTML, so without script it is the select it always was and posts
the same value; with script the marketer types part of a name and sees each entry's id
beside it. The select2 set-up is Django admin's autocomplete (its vendored jQuery and
select2, its "admin-autocomplete" theme, the same init on "Add another" rows), with
the options searched in the page instead of fetched: they come from the catalogue the
form already holds. See https://select2.org/configuration/data-attributes for the
`data-*` options.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.widgets import get_select2_language
from django.utils.safestring import SafeString, mark_safe

from integrations.studio.choices import choice_ref

NOT_IN_CATALOGUE = "(not in the catalogue)"


class CataloguePicker(forms.Select):
    """A select whose options carry the id to show beside each name (`data-ref`) and
    flag a stored value the catalogue lacks (`data-missing`)."""

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        choices: Any = (),
        ref: Callable[[str, str], str] = choice_ref,
    ):
        super().__init__(attrs, choices)
        self.ref = ref

    def build_attrs(
        self, base_attrs: dict[str, Any], extra_attrs: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        attrs = super().build_attrs(base_attrs, extra_attrs)
        # Not the class "admin-autocomplete": Django's autocomplete.js would set these
        # up to fetch their options from a model's autocomplete view.
        attrs["class"] = f"{attrs.get('class', '')} catalogue-picker".strip()
        attrs.update(
            {
                "data-theme": "admin-autocomplete",
                "data-allow-clear": "true",  # back to "—"; the form says if one is needed
                "data-placeholder": self._blank_label(),
                "data-width": "20em",
            }
        )
        language = get_select2_language()
        if language:
            attrs["lang"] = language
        return attrs

    def _blank_label(self) -> str:
        return next((str(label) for value, label in self.choices if value == ""), "—")

    def create_option(
        self,
        name: str,
        value: Any,
        label: Any,
        selected: Any,
        index: int,
        subindex: int | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        text, shown = "" if value is None else str(value), str(label)
        ref = self.ref(text, shown) if text else ""
        if ref:
            option["attrs"]["data-ref"] = ref
        if shown.endswith(NOT_IN_CATALOGUE):
            option["attrs"]["data-missing"] = "true"
        return option

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        """What Django's select.html template renders, written here: a catalogue of
        thousands of entries, repeated in every inline row, spends most of the page's
        time in that template's per-option include."""
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [f'<select name="{escape(name)}"{_attrs(widget["attrs"])}>']
        for group_name, options, _ in widget["optgroups"]:
            if group_name:
                parts.append(f'<optgroup label="{escape(str(group_name))}">')
            parts.extend(
                f'<option value="{escape("" if o["value"] is None else str(o["value"]))}"'
                f"{_attrs(o['attrs'])}>{escape(str(o['label']))}</option>"
                for o in options
            )
            if group_name:
                parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("\n".join(parts))  # every value in it is escaped above

    @property
    def media(self) -> forms.Media:
        # The files and order of django.contrib.admin.widgets.AutocompleteMixin.media:
        # select2 attaches to the global jQuery before jquery.init.js takes it away.
        extra = "" if settings.DEBUG else ".min"
        language = get_select2_language()
        i18n = (f"admin/js/vendor/select2/i18n/{language}.js",) if language else ()
        return forms.Media(
            js=(
                f"admin/js/vendor/jquery/jquery{extra}.js",
                f"admin/js/vendor/select2/select2.full{extra}.js",
                *i18n,
                "admin/js/jquery.init.js",
                "studio/catalogue_picker.js",
            ),
            css={
                "screen": (
                    f"admin/css/vendor/select2/select2{extra}.css",
                    "admin/css/autocomplete.css",
                    "studio/catalogue_picker.css",
                )
            },
        )


def _attrs(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html: True as a bare name, False left out, escaped."""
    return "".join(
        f" {escape(key)}" if value is True else f' {escape(key)}="{escape(str(value))}"'
        for key, value in attrs.items()
        if value is not False
    )
