"""The profile's mail preferences: which notification mails a person wants."""

from __future__ import annotations

from typing import Any

from django import forms

from tickets.mail.models import MailKind


class MailPreferenceForm(forms.Form):
    wanted = forms.MultipleChoiceField(
        label="Mail me when",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Mail that answers something you sent (a refused attachment) and paging "
        "(its own rules, on the desk) always go out.",
    )

    def __init__(
        self, *args: Any, kinds: list[str], muted: list[str] | None = None, **kwargs: Any
    ) -> None:
        """`kinds`: the notification mails this person can get (outbound.optional_kinds_for);
        what they muted of the others stays muted."""
        kwargs.setdefault("prefix", "mail")
        super().__init__(*args, **kwargs)
        self.kinds = kinds
        self.muted_before = list(muted or [])
        wanted = self.fields["wanted"]
        assert isinstance(wanted, forms.MultipleChoiceField)
        wanted.choices = [(kind, MailKind(kind).label) for kind in kinds]
        wanted.initial = [k for k in kinds if k not in self.muted_before]

    def muted(self) -> list[str]:
        wanted = set(self.cleaned_data["wanted"])
        offered = [kind for kind in self.kinds if kind not in wanted]
        return [*offered, *(kind for kind in self.muted_before if kind not in self.kinds)]
