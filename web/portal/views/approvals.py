"""The representatives' approvals page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tickets.models import Ticket
from tickets.selectors import ticket_list
from tickets.states import TicketStatus
from web.access import current_user
from web.portal.forms import TransitionForm
from web.portal.place import Place, portal_place
from web.portal.views.common import portal_context


def render_approvals(
    request: HttpRequest,
    place: Place,
    *,
    failed: tuple[Ticket, TransitionForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    if place.community is None or not place.is_representative:
        raise Http404("No such page.")
    tickets = list(
        ticket_list(current_user(request))
        .filter(community=place.community, status=TicketStatus.AWAITING_APPROVAL)
        .order_by("created_at", "id")
    )
    rows = []
    for ticket in tickets:
        form = (
            failed[1]
            if failed is not None and failed[0].pk == ticket.pk
            else TransitionForm(initial={"name": "decline", "return_to": "approvals"})
        )
        form.auto_id = f"id_%s_{ticket.pk}"
        rows.append({"ticket": ticket, "decline_form": form})
    # A refusal about a ticket that is no longer waiting (someone else answered first).
    stray = failed if failed is not None and all(t.pk != failed[0].pk for t in tickets) else None
    context = portal_context(place, "approvals", rows=rows, stray=stray)
    return render(request, "portal/approvals.html", context, status=status)


@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    return render_approvals(request, portal_place(request))
