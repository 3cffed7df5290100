"""The queue page: the rail of queues and saved filters, the filtered, sorted ticket table and
its bulk actions."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from communities.selectors import community_scope
from core.errors import ApplicationError
from core.selectors import agent_list
from web.access import agent_required, current_user
from web.desk.bulk import BulkResult, bulk_assign, bulk_set_severity, bulk_transition
from web.desk.forms import BulkForm, QueueFilterForm, SaveFilterForm, show_refusal
from web.desk.pages import queue_page_context, rail_context
from web.desk.selectors import saved_filters_owned
from web.desk.services import saved_filter_create, saved_filter_delete
from web.desk.views.common import HtmxHttpRequest


def _queue_url(request: HtmxHttpRequest) -> str:
    query = request.GET.urlencode()
    return reverse("desk:queue") + (f"?{query}" if query else "")


@agent_required
@require_GET
def queue(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "desk/queue.html", queue_page_context(request))


@agent_required
@require_GET
def rail(request: HtmxHttpRequest) -> HttpResponse:
    """The queues and their counts; the rail polls it every 30 seconds."""
    return render(request, "desk/partials/queues.html", rail_context(request))


def _report(request: HtmxHttpRequest, what: str, result: BulkResult) -> None:
    if result.done:
        references = ", ".join(t.reference for t in result.done)
        messages.success(request, f"{what}: {len(result.done)} ticket(s) ({references}).")
    for ticket, reason in result.refused:
        messages.warning(request, f"{ticket.reference} was not changed: {reason}")


@agent_required
@require_POST
def bulk(request: HtmxHttpRequest) -> HttpResponse:
    """Assign, change the status of, or set the severity of the selected tickets. The
    query string is the queue's, to return to (or re-render) the same list."""
    user = current_user(request)
    form = BulkForm(request.POST, user=user, agents=list(agent_list()))
    if form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == "assign":
                result = bulk_assign(tickets=data["tickets"], assignee=data["assignee"], actor=user)
                what = f"Assigned to {data['assignee'].display_name}"
            elif data["action"] == "transition":
                result = bulk_transition(
                    tickets=data["tickets"], name=data["transition"], actor=user
                )
                what = dict(BulkForm.BULK_TRANSITIONS)[data["transition"]]
            else:
                result = bulk_set_severity(
                    tickets=data["tickets"], severity=data["severity"], actor=user
                )
                what = f"Severity set to {dict(form.fields['severity'].choices)[data['severity']]}"  # type: ignore[attr-defined]
        except (ApplicationError, ValidationError) as error:
            show_refusal(form, error)
        else:
            _report(request, what, result)
            return redirect(_queue_url(request))
    return render(
        request, "desk/queue.html", queue_page_context(request, bulk_form=form), status=400
    )


@agent_required
@require_POST
def filter_save(request: HtmxHttpRequest) -> HttpResponse:
    """Save the filters of the query string under a name."""
    user = current_user(request)
    form = SaveFilterForm(request.POST)
    filters = QueueFilterForm(
        request.GET, communities=list(community_scope(user)), agents=list(agent_list())
    )
    if form.is_valid():
        try:
            saved = saved_filter_create(
                owner=user,
                name=form.cleaned_data["name"],
                params=filters.params(),
                shared=form.cleaned_data["shared"],
            )
        except (ApplicationError, ValidationError) as error:
            show_refusal(form, error)
        else:
            messages.success(request, f"Saved the filter “{saved.name}”.")
            return redirect(reverse("desk:queue") + f"?{saved.query_string}")
    return render(
        request, "desk/queue.html", queue_page_context(request, save_form=form), status=400
    )


@agent_required
@require_POST
def filter_delete(request: HtmxHttpRequest, filter_id: int) -> HttpResponse:
    saved = saved_filters_owned(current_user(request)).filter(pk=filter_id).first()
    if saved is None:
        raise Http404("No such saved filter.")
    saved_filter_delete(saved_filter=saved)
    messages.success(request, f"Deleted the filter “{saved.name}”.")
    return redirect("desk:queue")
