"""The desk's hand-written renderings give the markup Django's own templates give."""

from __future__ import annotations

import pytest
from django import forms
from django.template import Context, Template
from django.test.html import parse_html

from web.forms import QuickSelect, quicken_selects

CHOICES = [
    ("", "Anyone"),
    ("1", "Ada <Lovelace>"),
    ("Tiers", [("self-service", "Self service"), ("expert", "Expert & co")]),
]


class _Form(forms.Form):
    plain = forms.ChoiceField(choices=CHOICES)
    optional = forms.ChoiceField(choices=CHOICES, required=False)
    many = forms.MultipleChoiceField(
        choices=[("a", "A"), ("b", "B <b>")], widget=forms.CheckboxSelectMultiple, required=False
    )
    radio = forms.ChoiceField(choices=[("x", "X")], widget=forms.RadioSelect)


@pytest.mark.parametrize("value", ["", "1", "expert", "unknown"])
@pytest.mark.parametrize("required", [True, False])
def test_quick_select_renders_what_select_renders(value: str, required: bool) -> None:
    attrs = {"id": "f_x", "aria-describedby": "f_x_helptext", "class": "wide"}
    stock, quick = forms.Select(choices=CHOICES), QuickSelect(choices=CHOICES)
    stock.is_required = quick.is_required = required
    quick_html, stock_html = quick.render("x", value, attrs), stock.render("x", value, attrs)
    assert parse_html(quick_html) == parse_html(stock_html)


def test_quicken_selects_swaps_plain_selects_only() -> None:
    form = _Form(data={"plain": "1"}, auto_id="t_%s")
    before = {name: str(form[name]) for name in form.fields}
    quicken_selects(form)
    widgets = {name: type(field.widget) for name, field in form.fields.items()}
    assert widgets == {
        "plain": QuickSelect,
        "optional": QuickSelect,
        "many": forms.CheckboxSelectMultiple,
        "radio": forms.RadioSelect,
    }
    after = {name: parse_html(str(form[name])) for name in form.fields}
    assert after == {name: parse_html(html) for name, html in before.items()}
    assert form.fields["plain"].widget.is_required
    assert " required" in str(form["plain"])
    assert not form.fields["optional"].widget.is_required


@pytest.mark.parametrize("data", [{}, {"many": ["b"]}, {"many": ["a", "b"]}])
def test_checkbox_items_render_the_options_loop(data: dict[str, list[str]]) -> None:
    field = _Form(data=data, auto_id="t_%s")["many"]
    loop = Template(
        '{% for option in field %}<li><label for="{{ option.id_for_label }}">'
        "{{ option.tag }} {{ option.choice_label }}</label></li>{% endfor %}"
    ).render(Context({"field": field}))
    quick = Template("{% load desk %}{% checkbox_items field %}").render(Context({"field": field}))
    assert parse_html(quick) == parse_html(loop)
    assert quick.count("checked") == len(data.get("many", []))
