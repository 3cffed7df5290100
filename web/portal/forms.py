"""The portal's forms: they parse and show errors; the services decide."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from communities.models import Community
from core.errors import ApplicationError
from tickets.models import SatisfactionRating, Severity, TicketKind
from web.forms import MultipleFileField, show_errors
from web.portal.glossary import KIND_HELP, PORTAL_TRANSITIONS, SEVERITY_HELP

if TYPE_CHECKING:
    from django.forms.widgets import _OptAttrs

# The services name the file they refuse `file`; the portal's forms take several `attachments`.
_FIELD_ALIASES = {"file": "attachments"}

MARKDOWN_HELP = "Markdown works here: **bold**, *italic*, lists, `code` and links."
FILES_HELP = "Optional. Several files at once: screenshots, logs, PDF, ZIP. Up to {mb} MB each."


def show_refusal(form: forms.BaseForm, error: ApplicationError | ValidationError) -> None:
    """web.forms.show_errors, with the services' field names mapped to the portal's."""
    if isinstance(error, ApplicationError):
        if error.field in _FIELD_ALIASES:
            form.add_error(_FIELD_ALIASES[error.field], error.message)
            return
    elif hasattr(error, "error_dict"):
        error = ValidationError(
            {_FIELD_ALIASES.get(field, field): errors for field, errors in error.error_dict.items()}
        )
    show_errors(form, error)


class HelpRadioSelect(forms.RadioSelect):
    """Radio buttons, each described by its own one-line explanation (`<id>_help`)."""

    def create_option(
        self,
        name: str,
        value: Any,
        label: int | str,
        selected: bool,
        index: int,
        subindex: int | None = None,
        attrs: _OptAttrs | None = None,
    ) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if option["attrs"].get("id"):
            option["attrs"]["aria-describedby"] = f"{option['attrs']['id']}_help"
        return option


def _with_help(field: forms.BoundField, help_texts: dict[str, str]) -> list[tuple[Any, str]]:
    return [(radio, help_texts.get(str(radio.data["value"]), "")) for radio in field]


class RequestForm(forms.Form):
    community = forms.ModelChoiceField(
        queryset=Community.objects.none(),
        empty_label=None,
        help_text="The community this request is for.",
    )
    kind = forms.ChoiceField(
        label="What kind of request is it?",
        choices=TicketKind.choices,
        initial=TicketKind.QUESTION,
        widget=HelpRadioSelect,
    )
    severity = forms.ChoiceField(
        label="How severe is it?",
        choices=Severity.choices,
        initial=Severity.MEDIUM,
        widget=HelpRadioSelect,
    )
    subject = forms.CharField(max_length=200, help_text="One line that says what it is about.")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=(
            "What happened, what you expected, and since when; for a workshop, the date. "
            + MARKDOWN_HELP
        ),
    )
    attachments = MultipleFileField(label="Files")

    def __init__(
        self, *args: Any, communities: QuerySet[Community], max_mb: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        community_field = self.fields["community"]
        assert isinstance(community_field, forms.ModelChoiceField)
        community_field.queryset = communities
        self.fields["attachments"].help_text = FILES_HELP.format(mb=max_mb)

    def kind_options(self) -> list[tuple[Any, str]]:
        return _with_help(self["kind"], KIND_HELP)

    def severity_options(self) -> list[tuple[Any, str]]:
        return _with_help(self["severity"], SEVERITY_HELP)


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Your reply", widget=forms.Textarea(attrs={"rows": 5}), help_text=MARKDOWN_HELP
    )
    attachments = MultipleFileField(label="Files")

    def __init__(self, *args: Any, max_mb: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = FILES_HELP.format(mb=max_mb)


class TransitionForm(forms.Form):
    """One button of the request page or the approvals page (confirm, reopen, approve,
    decline). Only decline takes a note: the reason the requester is told."""

    RETURN_TO = (("ticket", "The request page"), ("approvals", "The approvals page"))

    name = forms.ChoiceField(
        choices=[(name, name) for name in PORTAL_TRANSITIONS], widget=forms.HiddenInput
    )
    note = forms.CharField(
        label="Reason for declining",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required. The requester is sent this reason.",
    )
    return_to = forms.ChoiceField(
        choices=RETURN_TO, required=False, initial="ticket", widget=forms.HiddenInput
    )


class SurveyForm(forms.Form):
    score = forms.ChoiceField(
        label="Was your request handled well?",
        choices=[
            (SatisfactionRating.Score.GOOD, "Good: my request was handled well"),
            (SatisfactionRating.Score.BAD, "Bad: it was not handled well"),
        ],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label="Anything you would like to add?",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional.",
    )


class CommunitySwitchForm(forms.Form):
    community = forms.SlugField(max_length=60)
    next = forms.CharField(required=False, max_length=2000)
