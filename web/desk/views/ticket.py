"""The ticket page and its forms. Each post parses one form and calls one service; a refusal
re-renders the page with the error beside its field (400), and a change someone else made
since the page was loaded re-renders it with what changed (409)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from communities.services import time_entry_log
from core.errors import ApplicationError
from core.selectors import agent_list
from tickets.errors import TicketChanged
from tickets.models import Channel, Ticket
from tickets.selectors import ticket_messages
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_assign, ticket_transition, ticket_update
from tickets.services.relations import ticket_link_add, ticket_link_remove, ticket_merge
from tickets.states import TRANSITIONS, TicketStatus
from web.access import agent_required, current_user, ticket_or_404
from web.desk.forms import (
    AssignForm,
    ComposerForm,
    FieldsForm,
    LinkForm,
    MacroPickForm,
    MergeForm,
    TagsForm,
    TimeForm,
    TransitionForm,
    show_refusal,
)
from web.desk.history import describe_events
from web.desk.pages import (
    Conflict,
    composer_context,
    thread_context,
    ticket_page_context,
    ticket_url,
)
from web.desk.presence import POLL_SECONDS, presence_touch
from web.desk.selectors import changed_since, macros_available, newest_event_id, ticket_events
from web.desk.views.common import HtmxHttpRequest

_NOT_RESENT = ("csrfmiddlewaretoken", "seen_event_id")


def _conflict(
    request: HtmxHttpRequest, ticket: Ticket, error: TicketChanged, *, name: str, form: forms.Form
) -> HttpResponse:
    """The page again, with what changed since it was loaded and a way to go ahead anyway."""
    events = ticket_events(current_user(request), ticket).filter(pk__in=error.extra["events"])
    conflict = Conflict(
        changes=describe_events(list(events.order_by("pk"))),
        latest=error.extra["latest"],
        action=request.path,
        resubmit=[
            (key, value)
            for key, values in request.POST.lists()
            if key not in _NOT_RESENT
            for value in values
        ],
        draft=name == "composer",
    )
    if name == "composer":
        if request.htmx:  # htmx swaps only 2xx answers: the thread says what happened
            return render(
                request,
                "desk/partials/thread.html",
                thread_context(request, ticket, composer=form, conflict=conflict),  # type: ignore[arg-type]
            )
        context = ticket_page_context(
            request,
            ticket,
            conflict=conflict,
            composer=composer_context(request, ticket, composer=form),  # type: ignore[arg-type]
        )
    else:
        context = ticket_page_context(request, ticket, bound={name: form}, conflict=conflict)
    return render(request, "desk/ticket.html", context, status=409)


def _refused(
    request: HtmxHttpRequest, ticket: Ticket, *, name: str, form: forms.Form
) -> HttpResponse:
    return render(
        request,
        "desk/ticket.html",
        ticket_page_context(request, ticket, bound={name: form}),
        status=400,
    )


def act(
    request: HtmxHttpRequest,
    reference: str,
    *,
    name: str,
    form: forms.Form,
    call: Callable[[Ticket, dict[str, Any]], str],
    then: Callable[[Ticket, dict[str, Any]], str] = lambda ticket, data: ticket_url(ticket),
) -> HttpResponse:
    """Run one service call for a ticket-page form: redirect (to the page, or `then`) saying
    what was done, or show the page again with the refusal beside the form's fields."""
    ticket = ticket_or_404(request, reference)
    if form.is_valid():
        try:
            done = call(ticket, form.cleaned_data)
        except TicketChanged as error:
            return _conflict(
                request, ticket_or_404(request, reference), error, name=name, form=form
            )
        except (ApplicationError, ValidationError) as error:
            show_refusal(form, error)
        else:
            messages.success(request, done)
            return redirect(then(ticket, form.cleaned_data))
    return _refused(request, ticket_or_404(request, reference), name=name, form=form)


# ---------------------------------------------------------------- reading


@agent_required
@require_GET
def ticket(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """The ticket page; `?tab=history` shows its history, `?macro=<id>` fills the composer
    with a canned response (the picker's answer without JavaScript)."""
    ticket = ticket_or_404(request, reference)
    tab = "history" if request.GET.get("tab") == "history" else "conversation"
    composer = None
    if "macro" in request.GET:
        macro_form = MacroPickForm(request.GET, macros=macros_available(current_user(request)))
        macro = macro_form.cleaned_data["macro"] if macro_form.is_valid() else None
        composer = composer_context(request, ticket, macro=macro, macro_form=macro_form)
    return render(
        request,
        "desk/ticket.html",
        ticket_page_context(request, ticket, tab=tab, composer=composer),
    )


@agent_required
@require_GET
def composer(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """The composer filled with a canned response (htmx); the draft, when sent, is kept."""
    ticket = ticket_or_404(request, reference)
    if not request.htmx:
        return redirect(f"{ticket_url(ticket)}?{request.GET.urlencode()}")
    user = current_user(request)
    macro_form = MacroPickForm(request.GET, macros=macros_available(user))
    macro = macro_form.cleaned_data["macro"] if macro_form.is_valid() else None
    seen = request.GET.get("seen_event_id", "")
    context = {
        "ticket": ticket,
        "seen_event_id": int(seen) if seen.isdigit() else newest_event_id(user, ticket),
        **composer_context(
            request,
            ticket,
            macro=macro,
            draft=macro_form.cleaned_data.get("body", "") if macro_form.is_valid() else "",
            macro_form=macro_form,
        ),
    }
    return render(request, "desk/partials/composer.html", context)


@agent_required
@require_GET
def presence(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """Who else has the ticket open, and whether it changed since the page was loaded; the
    page polls it every 15 seconds."""
    ticket = ticket_or_404(request, reference)
    user = current_user(request)
    seen = request.GET.get("seen", "")
    context = {
        "ticket": ticket,
        "seen_event_id": int(seen) if seen.isdigit() else 0,
        "others": presence_touch(ticket_id=ticket.pk, user=user),
        "changed": seen.isdigit() and changed_since(user, ticket, int(seen)),
        "poll_seconds": POLL_SECONDS,
    }
    return render(request, "desk/partials/presence.html", context)


# ---------------------------------------------------------------- the conversation


@agent_required
@require_POST
def reply(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """A public reply or an internal note, with files."""
    ticket = ticket_or_404(request, reference)
    user = current_user(request)
    form = ComposerForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            message = message_add(
                ticket=ticket,
                author=user,
                body=data["body"],
                kind=data["kind"],
                channel=Channel.DESK,
                attachments=data["attachments"],
                seen_event_id=data["seen_event_id"],
            )
        except TicketChanged as error:
            return _conflict(request, ticket, error, name="composer", form=form)
        except (ApplicationError, ValidationError) as error:
            show_refusal(form, error)
        else:
            done = "Internal note added." if message.is_internal else "Reply sent."
            if request.htmx:
                return render(
                    request, "desk/partials/thread.html", thread_context(request, ticket, sent=done)
                )
            messages.success(request, done)
            return redirect(ticket_url(ticket))
    if request.htmx:  # htmx swaps only 2xx answers: the thread shows the errors
        return render(
            request, "desk/partials/thread.html", thread_context(request, ticket, composer=form)
        )
    return render(
        request,
        "desk/ticket.html",
        ticket_page_context(
            request, ticket, composer=composer_context(request, ticket, composer=form)
        ),
        status=400,
    )


# ---------------------------------------------------------------- status, assignee, fields


@agent_required
@require_POST
def transition(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    def call(ticket: Ticket, data: dict[str, Any]) -> str:
        changed = ticket_transition(
            ticket=ticket,
            name=data["transition"],
            actor=current_user(request),
            note=data["note"],
            seen_event_id=data["seen_event_id"],
        )
        label = TRANSITIONS[data["transition"]].label
        return f"{label}: {changed.reference} is now {TicketStatus(changed.status).label.lower()}."

    return act(request, reference, name="transition", form=TransitionForm(request.POST), call=call)


@agent_required
@require_POST
def assign(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    def call(ticket: Ticket, data: dict[str, Any]) -> str:
        assignee = data["assignee"]
        ticket_assign(
            ticket=ticket,
            assignee=assignee,
            actor=current_user(request),
            seen_event_id=data["seen_event_id"],
        )
        return f"Assigned to {assignee.display_name}." if assignee else "Unassigned."

    form = AssignForm(request.POST, agents=list(agent_list()))
    return act(request, reference, name="assign", form=form, call=call)


@agent_required
@require_POST
def fields(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """Severity and tier, with the reason kept in the audit trail."""

    def call(ticket: Ticket, data: dict[str, Any]) -> str:
        ticket_update(
            ticket=ticket,
            actor=current_user(request),
            data={"severity": data["severity"], "tier": data["tier"]},
            reason=data["reason"],
            seen_event_id=data["seen_event_id"],
        )
        return "Severity and tier saved."

    return act(request, reference, name="fields", form=FieldsForm(request.POST), call=call)


@agent_required
@require_POST
def tags(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    def call(ticket: Ticket, data: dict[str, Any]) -> str:
        ticket_update(
            ticket=ticket,
            actor=current_user(request),
            data={"tags": data["tags"]},
            seen_event_id=data["seen_event_id"],
        )
        return "Tags saved."

    return act(request, reference, name="tags", form=TagsForm(request.POST), call=call)


@agent_required
@require_POST
def time(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """Minutes spent, counted against the community's support budget."""

    def call(ticket: Ticket, data: dict[str, Any]) -> str:
        entry = time_entry_log(
            ticket=ticket, agent=current_user(request), minutes=data["minutes"], note=data["note"]
        )
        return f"Logged {entry.minutes} min."

    return act(request, reference, name="time", form=TimeForm(request.POST), call=call)


# ---------------------------------------------------------------- related tickets


@agent_required
@require_POST
def link_add(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    def call(ticket: Ticket, data: dict[str, Any]) -> str:
        ticket_link_add(ticket=ticket, other=data["other"], actor=current_user(request))
        return f"Linked {data['other'].reference}."

    form = LinkForm(request.POST, user=current_user(request))
    return act(request, reference, name="link", form=form, call=call)


@agent_required
@require_POST
def link_remove(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    def call(ticket: Ticket, data: dict[str, Any]) -> str:
        ticket_link_remove(ticket=ticket, other=data["other"], actor=current_user(request))
        return f"Unlinked {data['other'].reference}."

    form = LinkForm(request.POST, user=current_user(request))
    return act(request, reference, name="link", form=form, call=call)


@agent_required
@require_http_methods(["GET", "POST"])
def merge(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """GET: confirm merging this ticket into the one named. POST: merge."""
    user = current_user(request)
    if request.method == "GET":
        ticket = ticket_or_404(request, reference)
        form = MergeForm(request.GET, user=user)
        if not form.is_valid():
            return _refused(request, ticket, name="merge", form=form)
        context = {
            "area": "desk",
            "ticket": ticket,
            "target": form.cleaned_data["target"],
            "seen_event_id": form.cleaned_data["seen_event_id"],
            "moving": ticket_messages(user=user, ticket=ticket).count(),
        }
        return render(request, "desk/merge.html", context)

    def call(ticket: Ticket, data: dict[str, Any]) -> str:
        target = ticket_merge(
            source=ticket, target=data["target"], actor=user, seen_event_id=data["seen_event_id"]
        )
        return f"{ticket.reference} was merged into {target.reference}."

    return act(
        request,
        reference,
        name="merge",
        form=MergeForm(request.POST, user=user),
        call=call,
        then=lambda ticket, data: ticket_url(data["target"]),  # carry on with the one that stays
    )
