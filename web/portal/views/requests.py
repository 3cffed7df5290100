"""The community's requests, the community switcher and the new-request form."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme

from communities.selectors import representatives_of
from core.errors import ApplicationError
from tickets.models import Channel, Ticket
from tickets.selectors import ticket_list
from tickets.services.lifecycle import ticket_open
from tickets.states import FINISHED, TicketStatus
from web.access import current_user
from web.portal.forms import CommunitySwitchForm, RequestForm
from web.portal.place import Place, portal_communities, portal_place, remember_community
from web.portal.views.common import (
    PortalRequest,
    max_mb,
    names_text,
    portal_context,
    refuse,
    waiting_text,
)

PAGE_SIZE = 20


@login_required
def home(request: PortalRequest) -> HttpResponse:
    place = portal_place(request)
    user = current_user(request)
    show = "closed" if request.GET.get("show") == "closed" else "open"
    page = None
    awaiting: list[Ticket] = []
    if place.community is not None:
        # ticket_scope already keeps a member to their own tickets and shows a
        # representative all of the community's; the portal narrows it to one community.
        tickets = ticket_list(user).filter(community=place.community)
        listed = (
            tickets.filter(status__in=FINISHED)
            if show == "closed"
            else tickets.exclude(status__in=FINISHED)
        )
        page = Paginator(listed.order_by("-updated_at", "-id"), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        if place.is_representative:
            awaiting = list(
                tickets.filter(status=TicketStatus.AWAITING_APPROVAL).order_by("created_at", "id")
            )
    context = portal_context(place, "home", show=show, page=page, awaiting=awaiting)
    partial = request.htmx and request.htmx.target == "requests"
    template = "portal/partials/requests.html" if partial else "portal/home.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def switch_community(request: HttpRequest) -> HttpResponse:
    """Choose the current community (a GET or a POST form); only the user's own exist."""
    form = CommunitySwitchForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        raise Http404("No such community.")
    community = (
        portal_communities(current_user(request))
        .filter(slug=form.cleaned_data["community"])
        .first()
    )
    if community is None:
        raise Http404("No such community.")
    remember_community(request, community)
    messages.success(request, f"Showing {community.name}.")
    target = form.cleaned_data["next"]
    if target.startswith("/portal/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("portal:home")


def _community_notes(place: Place) -> list[dict[str, Any]]:
    """For each of the user's communities: do their requests open directly, or who approves."""
    notes = []
    for community in place.communities:
        representative = place.role_in(community) == "representative"
        approvers = (
            []
            if representative
            else [m.user for m in representatives_of(community_id=community.pk)]
        )
        notes.append(
            {
                "community": community,
                "representative": representative,
                "approvers": names_text(approvers),
            }
        )
    return notes


@login_required
def new_request(request: HttpRequest) -> HttpResponse:
    place = portal_place(request)
    user = current_user(request)
    form = RequestForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        communities=portal_communities(user, place.roles),
        max_mb=max_mb(),
        initial={"community": place.community},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = ticket_open(
                community=data["community"],
                requester=user,
                opened_by=user,
                subject=data["subject"],
                description=data["description"],
                kind=data["kind"],
                severity=data["severity"],
                channel=Channel.PORTAL,
                attachments=data["attachments"],
            )
        except (ApplicationError, ValidationError) as error:
            refuse(form, error)
        else:
            if ticket.status == TicketStatus.AWAITING_APPROVAL:
                approvers = [m.user for m in representatives_of(community_id=ticket.community_id)]
                messages.success(request, waiting_text(ticket, approvers))
            else:
                messages.success(
                    request, f"{ticket.reference} is open: the support team will be in touch."
                )
            return redirect("portal:ticket", reference=ticket.reference)
    context = portal_context(place, "new", form=form, notes=_community_notes(place))
    return render(
        request, "portal/new.html", context, status=400 if request.method == "POST" else 200
    )
