"""The request page and what can be done on it: reply, confirm, reopen, approve,
decline, rate."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from communities.selectors import representatives_of
from core.errors import ApplicationError
from core.models import User
from tickets.models import Channel, Message, Ticket, TicketEvent
from tickets.selectors import (
    attachment_scope,
    survey_waiting,
    ticket_event_scope,
    ticket_messages,
    transitions_available,
)
from tickets.services.conversation import message_add
from tickets.services.lifecycle import ticket_transition
from tickets.services.surveys import survey_answer
from tickets.states import TicketStatus
from web.access import current_user, ticket_or_404
from web.portal.forms import ReplyForm, SurveyForm, TransitionForm
from web.portal.glossary import PORTAL_TRANSITIONS
from web.portal.place import portal_place
from web.portal.views.approvals import render_approvals
from web.portal.views.common import max_mb, names_text, portal_context, refuse

_DONE = {
    "confirm": "Thank you: {reference} is closed as resolved.",
    "reopen": "{reference} is open again; the support team will pick it up.",
    "approve": "{reference} is approved and goes to the support team.",
    "decline": "{reference} is declined; the requester is told why.",
}


def _opening_message(ticket: Ticket, conversation: list[Message]) -> Message | None:
    """The first message is the description itself (ticket_open writes both at once)."""
    if conversation and conversation[0].author_id == ticket.requester_id:
        first = conversation[0]
        if first.created_at == ticket.created_at:
            return first
    return None


def _decline_note(user: User, ticket: Ticket) -> TicketEvent | None:
    """The latest status change, when it was a decline: its note is the reason."""
    latest = (
        ticket_event_scope(user)
        .filter(ticket=ticket, kind=TicketEvent.Kind.STATUS_CHANGED)
        .select_related("actor")
        .order_by("-created_at", "-id")
        .first()
    )
    if latest is not None and latest.data.get("transition") == "decline":
        return latest
    return None


def _render_ticket(
    request: HttpRequest,
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    failed: TransitionForm | None = None,
    rating_form: SurveyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = current_user(request)
    place = portal_place(request)
    # Even an agent looking at the portal sees only what the requester sees.
    conversation = list(ticket_messages(user=user, ticket=ticket).filter(kind=Message.Kind.PUBLIC))
    opening = _opening_message(ticket, conversation)
    if opening is not None:
        conversation = conversation[1:]
    offered = {t.name for t in transitions_available(user=user, ticket=ticket)}
    actions = [name for name in PORTAL_TRANSITIONS if name in offered]
    failed_name = failed["name"].value() if failed is not None else None
    decline_form = (
        failed
        if failed is not None and failed_name == "decline"
        else TransitionForm(initial={"name": "decline"})
    )
    survey = (
        survey_waiting(ticket=ticket)
        if ticket.requester_id == user.pk and ticket.status == TicketStatus.RESOLVED
        else None
    )
    approvers = (
        [m.user for m in representatives_of(community_id=ticket.community_id)]
        if ticket.status == TicketStatus.AWAITING_APPROVAL
        else []
    )
    is_agent = bool(user.is_staff and user.is_active)
    context = portal_context(
        place,
        "ticket",
        ticket=ticket,
        opening=opening,
        conversation=conversation,
        # Files added to the ticket itself rather than to a message (through the API).
        loose_files=list(
            attachment_scope(user).filter(ticket=ticket, message__isnull=True).order_by("id")
        ),
        actions=actions,
        action_errors=failed.non_field_errors() if failed is not None else [],
        decline_form=decline_form,
        declined=_decline_note(user, ticket) if ticket.status == TicketStatus.CLOSED else None,
        approvers=approvers,
        approvers_text=names_text(approvers),
        is_requester=ticket.requester_id == user.pk,
        can_reply=ticket.status != TicketStatus.CLOSED or is_agent,
        reply_form=reply_form or ReplyForm(max_mb=max_mb()),
        survey=survey,
        rating_form=rating_form or SurveyForm(),
    )
    return render(request, "portal/ticket.html", context, status=status)


@login_required
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    return _render_ticket(request, ticket_or_404(request, reference))


@login_required
@require_POST
def ticket_reply(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = ticket_or_404(request, reference)
    form = ReplyForm(request.POST, request.FILES, max_mb=max_mb())
    if form.is_valid():
        try:
            message = message_add(
                ticket=ticket,
                author=current_user(request),
                body=form.cleaned_data["body"],
                kind=Message.Kind.PUBLIC,
                channel=Channel.PORTAL,
                attachments=form.cleaned_data["attachments"],
            )
        except (ApplicationError, ValidationError) as error:
            refuse(form, error)
        else:
            messages.success(request, f"Your reply was added to {ticket.reference}.")
            url = reverse("portal:ticket", kwargs={"reference": ticket.reference})
            return redirect(f"{url}#message-{message.pk}")
    return _render_ticket(request, ticket, reply_form=form, status=400)


@login_required
@require_POST
def ticket_transition_view(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = ticket_or_404(request, reference)
    form = TransitionForm(request.POST)
    if form.is_valid():
        name = form.cleaned_data["name"]
        try:
            ticket_transition(
                ticket=ticket,
                name=name,
                actor=current_user(request),
                note=form.cleaned_data["note"] if name == "decline" else "",
            )
        except (ApplicationError, ValidationError) as error:
            refuse(form, error)
        else:
            messages.success(request, _DONE[name].format(reference=ticket.reference))
            if form.cleaned_data["return_to"] == "approvals":
                return redirect("portal:approvals")
            return redirect("portal:ticket", reference=ticket.reference)
    if form["return_to"].value() == "approvals":
        place = portal_place(request)
        if place.is_representative:
            return render_approvals(request, place, failed=(ticket, form), status=400)
    return _render_ticket(request, ticket, failed=form, status=400)


@login_required
@require_POST
def ticket_rate(request: HttpRequest, reference: str) -> HttpResponse:
    """The requester answers the satisfaction survey from the request page."""
    ticket = ticket_or_404(request, reference)
    form = SurveyForm(request.POST)
    rating = survey_waiting(ticket=ticket)
    if rating is None:
        form.add_error(None, "There is no survey waiting for an answer on this request.")
    elif form.is_valid():
        try:
            survey_answer(
                rating=rating,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data["comment"],
                by=current_user(request),
            )
        except (ApplicationError, ValidationError) as error:
            refuse(form, error)
        else:
            messages.success(request, f"Thank you: your rating of {ticket.reference} is recorded.")
            return redirect("portal:ticket", reference=ticket.reference)
    return _render_ticket(request, ticket, rating_form=form, status=400)
