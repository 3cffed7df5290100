"""Forms of the desk's "My notification rules" page (incidents.notify.services)."""

from __future__ import annotations

from typing import Any

from django import forms

from core.models import User
from incidents.notify.models import Channel, ContactKind, ContactMethod, Importance


class RuleForm(forms.Form):
    importance = forms.ChoiceField(choices=Importance.choices, initial=Importance.DEFAULT)
    channel = forms.ChoiceField(choices=Channel.choices)
    delay_minutes = forms.IntegerField(
        label="After (minutes)",
        initial=0,
        min_value=0,
        max_value=24 * 60,
        error_messages={"min_value": "A delay cannot be negative."},
    )
    contact_method = forms.ModelChoiceField(
        queryset=ContactMethod.objects.none(),
        required=False,
        empty_label="Default (your account's email, or your first of the kind)",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "rule")
        super().__init__(*args, **kwargs)
        field = self.fields["contact_method"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = ContactMethod.objects.filter(user=user).order_by("kind", "id")


class ContactMethodForm(forms.Form):
    kind = forms.ChoiceField(choices=ContactKind.choices)
    address = forms.CharField(
        max_length=500,
        help_text="Email address, phone number in international form (+4915112345678), "
        "or an https URL.",
    )
    label = forms.CharField(max_length=100, required=False)
    secret = forms.CharField(
        max_length=200,
        required=False,
        label="Webhook secret",
        help_text="Webhooks only: signs each request (X-Supportdesk-Signature).",
        widget=forms.PasswordInput(render_value=False),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "contact")
        super().__init__(*args, **kwargs)


class TestForm(forms.Form):
    importance = forms.ChoiceField(choices=Importance.choices, initial=Importance.DEFAULT)


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])
