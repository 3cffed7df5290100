"""What every desk and portal form shares."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.errors import ApplicationError


def show_errors(form: forms.BaseForm, error: ApplicationError | ValidationError) -> None:
    """Put a service's refusal beside the field it concerns (or above the form)."""
    if isinstance(error, ApplicationError):
        field = error.field if error.field in form.fields else None
        form.add_error(field, error.message)
        return
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return
    form.add_error(None, error)


_OPTION = '<option value="{}"{}>{}</option>'


class QuickSelect(forms.Select):
    """Django's Select, written out in Python. The stock widget renders a template for every
    option (about 15 µs each): a desk page has a few selects of every agent and community,
    and their options were a fifth of the queue page's time. Same context, same HTML."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = []
        for group_name, options, _ in widget["optgroups"]:
            rendered = format_html_join(
                "", _OPTION, ((o["value"], flatatt(o["attrs"]), o["label"]) for o in options)
            )
            if group_name:
                rendered = format_html('<optgroup label="{}">{}</optgroup>', group_name, rendered)
            parts.append(rendered)
        return format_html(
            '<select name="{}"{}>{}</select>',
            widget["name"],
            flatatt(widget["attrs"]),
            format_html_join("", "{}", ((part,) for part in parts)),
        )


def quicken_selects(form: forms.BaseForm) -> None:
    """Render the form's plain selects with QuickSelect."""
    for field in form.fields.values():
        widget = field.widget
        if type(widget) is forms.Select:
            quick = QuickSelect(attrs=widget.attrs, choices=widget.choices)
            quick.is_required = widget.is_required
            field.widget = quick


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one <input type="file" multiple>."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class ProfileForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    time_zone = forms.ChoiceField(
        choices=_time_zone_choices,
        help_text="Every time on the desk and the portal is shown in it.",
    )
