"""One-click links from notifications: acknowledge or resolve a page without signing in.

Opening a link (GET) only shows the page and a single button; the button POSTs the action.
Mail and chat scanners open links to check them, and a GET that acted would acknowledge a
page nobody has read. The signed token is the credential (it names the page, the action
and the person it was sent to), so the POST needs no CSRF cookie: a forged form would have
to know the token.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.models import User
from incidents.paging.errors import LinkExpired, LinkInvalid, PageResolved
from incidents.paging.links import PageLink, link_read
from incidents.paging.models import Page, PageEvent, PageState, Via
from incidents.paging.services.pages import page_acknowledge, page_resolve

LABELS = {"acknowledge": "Acknowledge", "resolve": "Resolve"}


def _would_change(page: Page, action: str) -> bool:
    if action == "acknowledge":
        return page.state == PageState.TRIGGERED or (
            page.state == PageState.ACKNOWLEDGED and page.reminded_at is not None
        )
    return page.state != PageState.RESOLVED


def _page(page_id: int) -> Page | None:
    return (
        Page.objects.select_related("acknowledged_by", "resolved_by", "ticket")
        .prefetch_related(
            Prefetch("events", queryset=PageEvent.objects.select_related("actor").order_by("at"))
        )
        .filter(pk=page_id)
        .first()
    )


def _error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "paging/link_error.html", {"message": message}, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def page_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link: PageLink = link_read(token)
    except LinkExpired as exc:
        return _error(request, exc.message, 400)
    except LinkInvalid as exc:
        return _error(request, exc.message, 404)
    page = _page(link.page_id)
    if page is None:
        return _error(request, "This link is not valid.", 404)
    done = False
    if request.method == "POST" and _would_change(page, link.action):
        actor = (
            User.objects.filter(pk=link.user_id, is_active=True).first() if link.user_id else None
        )
        try:
            if link.action == "acknowledge":
                page_acknowledge(page=page, actor=actor, via=Via.LINK)
            else:
                page_resolve(page=page, actor=actor, via=Via.LINK)
            done = True
        except PageResolved:
            pass
        page = _page(link.page_id)
        assert page is not None
    return render(
        request,
        "paging/link.html",
        {
            "page": page,
            "action": link.action,
            "label": LABELS[link.action],
            "can_act": _would_change(page, link.action),
            "done": done,
            "posted": request.method == "POST",
        },
    )
