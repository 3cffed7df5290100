"""The profile's mail preferences: which notification mails a person wants."""

from __future__ import annotations

from typing import Any

from django import forms

from tickets.mail.models import MailKind
from tickets.mail.outbound import OPTIONAL_KINDS


class MailPreferenceForm(forms.Form):
    wanted = forms.MultipleChoiceField(
        label="Mail me when",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(kind.value, MailKind(kind).label) for kind in OPTIONAL_KINDS],
        help_text="Mail that answers something you sent (a refused attachment) and paging "
        "(its own rules, on the desk) always go out.",
    )

    def __init__(self, *args: Any, muted: list[str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "mail")
        super().__init__(*args, **kwargs)
        self.fields["wanted"].initial = [k for k in OPTIONAL_KINDS if k not in (muted or [])]

    def muted(self) -> list[str]:
        wanted = set(self.cleaned_data["wanted"])
        return [kind.value for kind in OPTIONAL_KINDS if kind not in wanted]
