"""The desk's held mail: messages from unknown senders (MAIL_UNKNOWN_SENDER = "hold")
wait here until staff attach one to a community (its sender becomes a member and the
message opens a ticket) or discard it. Agents only, like the rest of the desk; a message
that is not held is a 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from communities.models import Community
from core.errors import ApplicationError, NotFound
from tickets.mail.models import InboundMessage
from tickets.mail.parsing import parse_mail
from tickets.mail.services import held_messages, inbound_attach, inbound_discard
from web.access import agent_required, current_user
from web.desk.forms import DeskForm
from web.forms import show_errors

PAGE_SIZE = 50


class AttachForm(DeskForm):
    id_prefix = "attach"
    community = forms.ModelChoiceField(
        label="Community", queryset=Community.objects.filter(active=True).order_by("name")
    )


def _held_or_404(inbound_id: int) -> InboundMessage:
    inbound = held_messages().filter(pk=inbound_id).first()
    if inbound is None:
        raise Http404("No such held message.")
    return inbound


@agent_required
@require_GET
def held(request: HttpRequest) -> HttpResponse:
    rows = list(
        held_messages()
        .order_by("-received_at", "-pk")
        .only("pk", "received_at", "from_address", "subject", "detail")[:PAGE_SIZE]
    )
    return render(
        request,
        "desk/mail/held.html",
        {"rows": rows, "total": held_messages().count(), "page_size": PAGE_SIZE},
    )


def _detail(
    request: HttpRequest, inbound: InboundMessage, form: AttachForm, status: int
) -> HttpResponse:
    try:
        text = parse_mail(bytes(inbound.raw)).text
    except Exception:  # noqa: BLE001 - shown raw below instead
        text = ""
    return render(
        request,
        "desk/mail/held_message.html",
        {"inbound": inbound, "text": text, "form": form},
        status=status,
    )


@agent_required
@require_GET
def held_message(request: HttpRequest, inbound_id: int) -> HttpResponse:
    return _detail(request, _held_or_404(inbound_id), AttachForm(), 200)


@agent_required
@require_POST
def held_attach(request: HttpRequest, inbound_id: int) -> HttpResponse:
    inbound = _held_or_404(inbound_id)
    form = AttachForm(request.POST)
    if form.is_valid():
        try:
            ticket = inbound_attach(
                inbound=inbound,
                community=form.cleaned_data["community"],
                actor=current_user(request),
            )
        except NotFound as exc:
            raise Http404("No such held message.") from exc
        except (ApplicationError, ValidationError) as exc:
            show_errors(form, exc)
        else:
            messages.success(request, f"{ticket.reference} opened from the held message.")
            return redirect(reverse("desk:ticket", args=[ticket.reference]))
    return _detail(request, inbound, form, 400)


@agent_required
@require_POST
def held_discard(request: HttpRequest, inbound_id: int) -> HttpResponse:
    inbound = _held_or_404(inbound_id)
    try:
        inbound_discard(inbound=inbound, actor=current_user(request))
    except NotFound as exc:
        raise Http404("No such held message.") from exc
    messages.success(request, "The message was discarded.")
    return redirect("desk:held_mail")
