"""The desk's forms: they parse and show errors; the services decide."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from communities.models import Community
from core.errors import ApplicationError, NotFound
from core.models import User
from tickets.models import Macro, Message, Severity, Ticket, Tier
from tickets.selectors import ticket_get, ticket_scope
from tickets.states import TRANSITIONS, Actor, TicketStatus
from web.forms import MultipleFileField, quicken_selects, show_errors

# The services name a refused upload `file`; the composer's field is `attachments`.
_FIELD_ALIASES = {"file": "attachments"}


def show_refusal(form: forms.BaseForm, error: ApplicationError | ValidationError) -> None:
    """web.forms.show_errors, with the services' field names mapped to the desk's."""
    if isinstance(error, ApplicationError) and error.field in _FIELD_ALIASES:
        form.add_error(_FIELD_ALIASES[error.field], error.message)
        return
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        error = ValidationError(
            {_FIELD_ALIASES.get(name, name): errors for name, errors in error.error_dict.items()}
        )
    show_errors(form, error)


class DeskForm(forms.Form):
    """Several forms share a page (and field names such as `assignee` or `note`): each form's
    ids start with its own prefix, so every label points at its own input. Its selects are
    rendered in Python (web.forms.QuickSelect)."""

    id_prefix = "desk"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)
        quicken_selects(self)


def _agent_choices(agents: Sequence[User]) -> list[tuple[str, str]]:
    return [(str(agent.pk), agent.display_name) for agent in agents]


def _agent(value: str, agents: Sequence[User]) -> User | None:
    return next((a for a in agents if str(a.pk) == value), None)


# ---------------------------------------------------------------- the queue


class QueueFilterForm(DeskForm):
    """The filters above the queue table; tickets.filters.TicketFilter applies them."""

    id_prefix = "filter"

    status = forms.MultipleChoiceField(
        choices=TicketStatus.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    severity = forms.MultipleChoiceField(
        choices=Severity.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    tier = forms.MultipleChoiceField(
        choices=Tier.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    community = forms.ChoiceField(required=False)
    assignee = forms.ChoiceField(required=False)
    tag = forms.CharField(required=False, max_length=50)
    q = forms.CharField(label="Text", required=False, max_length=200)

    def __init__(
        self, *args: Any, communities: Sequence[Community], agents: Sequence[User], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["community"]
        field.choices = [("", "Any community"), *((c.slug, c.name) for c in communities)]
        field = self.fields["assignee"]
        field.choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("none", "Nobody (unassigned)"),
            *_agent_choices(agents),
        ]
        self.fields["tag"].widget.attrs["placeholder"] = "Any tag"
        self.fields["q"].widget.attrs["placeholder"] = "Words, or SD-1042"

    def params(self) -> dict[str, Any]:
        """The valid filters that are set, as a saved filter keeps them."""
        data = self.cleaned_data if self.is_valid() else {}
        return {name: value for name, value in data.items() if value not in ("", [], None)}


class SaveFilterForm(DeskForm):
    id_prefix = "save"
    name = forms.CharField(label="Name", max_length=80)
    shared = forms.BooleanField(label="Share with the team", required=False)


class BulkForm(DeskForm):
    """Several tickets at once: assign them, change their status, or set their severity."""

    id_prefix = "bulk"

    ACTIONS = (
        ("assign", "Assign"),
        ("transition", "Change status"),
        ("severity", "Set severity"),
    )
    tickets = forms.ModelMultipleChoiceField(
        queryset=Ticket.objects.none(),
        error_messages={"required": "Select at least one ticket."},
    )
    action = forms.ChoiceField(choices=ACTIONS)
    assignee = forms.ChoiceField(label="Assign to", required=False)
    transition = forms.ChoiceField(label="Status", required=False)
    severity = forms.ChoiceField(
        label="Severity", required=False, choices=[("", "—"), *Severity.choices]
    )

    # Transitions the desk may ask for on many tickets at once: an agent's, without a reason.
    BULK_TRANSITIONS = [
        (t.name, t.label)
        for t in TRANSITIONS.values()
        if not t.automatic and not t.requires_reason and Actor.STAFF in t.actors
    ]

    def __init__(self, *args: Any, user: User, agents: Sequence[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user, self.agents = user, agents
        field: Any = self.fields["tickets"]
        field.queryset = ticket_scope(user)
        field = self.fields["assignee"]
        field.choices = [("", "—"), ("me", "Me"), *_agent_choices(agents)]
        field = self.fields["transition"]
        field.choices = [("", "—"), *self.BULK_TRANSITIONS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        field = {"assign": "assignee", "transition": "transition", "severity": "severity"}.get(
            data.get("action", "")
        )
        if field is None or field not in data:
            return data  # no action, or the value was refused already
        if not data[field]:
            self.add_error(field, "Choose a value.")
        elif field == "assignee":
            value = data["assignee"]
            data["assignee"] = self.user if value == "me" else _agent(value, self.agents)
        return data


# ---------------------------------------------------------------- the ticket page


class TicketPageForm(DeskForm):
    """Every form on the ticket page says which audit event the page had seen (the collision
    guard, tickets.services.common.refuse_if_changed). Templates render the hidden input
    from the page's `seen_event_id`."""

    seen_event_id = forms.IntegerField(min_value=0, required=False, widget=forms.HiddenInput)


class ComposerForm(TicketPageForm):
    id_prefix = "composer"
    KINDS = ((Message.Kind.PUBLIC, "Public reply"), (Message.Kind.INTERNAL, "Internal note"))

    body = forms.CharField(
        label="Message",
        required=False,  # the service refuses a blank body, beside this field
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Markdown works here: **bold**, *italic*, lists, `code` and links.",
    )
    kind = forms.ChoiceField(
        label="Send as", choices=KINDS, initial=Message.Kind.PUBLIC, widget=forms.RadioSelect
    )
    attachments = MultipleFileField(
        label="Files",
        help_text=f"Optional. Up to {settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)} MB each.",
    )


class MacroPickForm(DeskForm):
    id_prefix = "macro"
    macro = forms.ModelChoiceField(
        label="Canned response",
        queryset=Macro.objects.none(),
        empty_label="Choose…",
        required=False,
    )
    body = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, macros: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["macro"]
        field.queryset = macros


class TransitionForm(TicketPageForm):
    id_prefix = "transition"
    transition = forms.ChoiceField(choices=[(name, t.label) for name, t in TRANSITIONS.items()])
    note = forms.CharField(
        label="Reason", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class AssignForm(TicketPageForm):
    id_prefix = "assign"
    # A choice of the agents the view listed, like BulkForm's: a ModelChoiceField would query
    # the agents again each time the page renders the select.
    assignee = forms.ChoiceField(
        label="Assignee",
        required=False,
        error_messages={"invalid_choice": "Choose one of the agents listed."},
    )

    def __init__(self, *args: Any, agents: Sequence[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agents = agents
        field: Any = self.fields["assignee"]
        field.choices = [("", "Nobody"), *_agent_choices(agents)]

    def clean_assignee(self) -> User | None:
        return _agent(self.cleaned_data["assignee"], self.agents)


class FieldsForm(TicketPageForm):
    id_prefix = "fields"
    severity = forms.ChoiceField(choices=Severity.choices)
    tier = forms.ChoiceField(choices=Tier.choices)
    reason = forms.CharField(
        label="Reason", max_length=500, help_text="Kept in the ticket's history."
    )


class TagsForm(TicketPageForm):
    id_prefix = "tags"
    tags = forms.CharField(
        label="Edit tags", required=False, max_length=1000, help_text="Separate tags with commas."
    )

    def clean_tags(self) -> list[str]:
        return [tag for tag in self.cleaned_data["tags"].split(",") if tag.strip()]


class TimeForm(TicketPageForm):
    id_prefix = "time"
    # The limits are the service's (TimeEntry.minutes); the browser hint only helps.
    minutes = forms.IntegerField(
        label="Minutes", widget=forms.NumberInput(attrs={"min": 1, "max": 24 * 60})
    )
    note = forms.CharField(label="What was done", required=False, max_length=500)


class _OtherTicketForm(TicketPageForm):
    """A form naming another ticket by its reference, looked up through the tenancy scope."""

    reference_field = "other"

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def _ticket(self) -> Ticket:
        reference = self.cleaned_data[self.reference_field]
        try:
            return ticket_get(user=self.user, reference=reference)
        except NotFound as exc:
            raise ValidationError(f"There is no ticket {reference}.", code="not_found") from exc


class LinkForm(_OtherTicketForm):
    id_prefix = "link"
    other = forms.CharField(label="Related ticket", max_length=30, help_text="e.g. SD-1042")

    def clean_other(self) -> Ticket:
        return self._ticket()


class MergeForm(_OtherTicketForm):
    id_prefix = "merge"
    reference_field = "target"
    target = forms.CharField(
        label="Merge into", max_length=30, help_text="The ticket that carries on, e.g. SD-1042"
    )

    def clean_target(self) -> Ticket:
        return self._ticket()
