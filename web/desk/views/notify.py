"""The desk's "My notification rules" page and a person's desk notifications. Everything
here is the signed-in agent's own: another person's rule, contact method or notification
is "not found"."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from incidents.notify import selectors, services
from incidents.notify.models import ContactMethod, NotificationRule
from web.access import agent_required, current_user
from web.desk.notify import ContactMethodForm, MoveForm, RuleForm, TestForm
from web.forms import show_errors

PAGE_SIZE = 50


def _rules_page(
    request: HttpRequest,
    *,
    rule_form: RuleForm | None = None,
    contact_form: ContactMethodForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = current_user(request)
    rules = selectors.rules_of(user)
    context: dict[str, Any] = {
        "area": "desk",
        "rules_default": rules["default"],
        "rules_important": rules["important"],
        "contact_methods": list(selectors.contact_methods_of(user)),
        "rule_form": rule_form or RuleForm(user=user),
        "contact_form": contact_form or ContactMethodForm(),
        "test_form": TestForm(),
    }
    return render(request, "desk/notify/rules.html", context, status=status)


@agent_required
@require_GET
def rules(request: HttpRequest) -> HttpResponse:
    """Which channels, in which order, after what delays, for default and important
    notifications; and where you can be reached."""
    return _rules_page(request)


@agent_required
@require_POST
def rule_add(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = RuleForm(request.POST, user=user)
    if form.is_valid():
        try:
            rule = services.rule_create(user=user, **form.cleaned_data)
        except ValidationError as error:
            show_errors(form, error)
        else:
            messages.success(
                request,
                f"Added to your {rule.get_importance_display().lower()} rules: "
                f"{rule.get_channel_display()} after {rule.delay_minutes} min.",
            )
            return redirect("desk:notify_rules")
    return _rules_page(request, rule_form=form, status=400)


def _own_rule(request: HttpRequest, rule_id: int) -> NotificationRule:
    return get_object_or_404(NotificationRule, pk=rule_id, user=current_user(request))


@agent_required
@require_POST
def rule_move(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _own_rule(request, rule_id)
    form = MoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Move a rule up or down.")
    elif services.rule_move(rule=rule, direction=form.cleaned_data["direction"]):
        messages.success(
            request, f"Moved {rule.get_channel_display()} {form.cleaned_data['direction']}."
        )
    else:
        messages.info(request, "That rule is already at that end.")
    return redirect("desk:notify_rules")


@agent_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = _own_rule(request, rule_id)
    services.rule_delete(rule=rule)
    messages.success(
        request, f"Removed the rule {rule.get_channel_display()} after {rule.delay_minutes} min."
    )
    return redirect("desk:notify_rules")


@agent_required
@require_POST
def contact_add(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = ContactMethodForm(request.POST)
    if form.is_valid():
        try:
            method = services.contact_method_create(user=user, **form.cleaned_data)
        except ValidationError as error:
            show_errors(form, error)
        else:
            messages.success(request, f"Added {method}.")
            return redirect("desk:notify_rules")
    return _rules_page(request, contact_form=form, status=400)


@agent_required
@require_POST
def contact_delete(request: HttpRequest, method_id: int) -> HttpResponse:
    method = get_object_or_404(ContactMethod, pk=method_id, user=current_user(request))
    services.contact_method_delete(method=method)
    messages.success(request, f"Removed {method}.")
    return redirect("desk:notify_rules")


@agent_required
@require_POST
def send_test(request: HttpRequest) -> HttpResponse:
    form = TestForm(request.POST)
    importance = form.cleaned_data["importance"] if form.is_valid() else "default"
    notification = services.send_test(user=current_user(request), importance=importance)
    channels = ", ".join(d.get_channel_display() for d in notification.deliveries.order_by("step"))
    messages.success(request, f"A test notification is on its way: {channels}.")
    return redirect("desk:notify_rules")


@agent_required
@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    """Your desk notifications, newest first."""
    paginator = Paginator(selectors.desk_notifications_of(current_user(request)), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "desk/notify/notifications.html",
        {"area": "desk", "page": page, "entries": page.object_list},
    )


@agent_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark one (`entry`) or all of your desk notifications read."""
    user = current_user(request)
    entry = request.POST.get("entry")
    if entry:
        if not entry.isdigit():
            messages.error(request, "No such notification.")
            return redirect("desk:notifications")
        found = get_object_or_404(selectors.desk_notifications_of(user), pk=int(entry))
        services.desk_mark_read(user=user, entry_ids=[found.pk])
        messages.success(request, "Marked read.")
    else:
        count = services.desk_mark_read(user=user)
        messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("desk:notifications")


@agent_required
@require_GET
def badge(request: HttpRequest) -> HttpResponse:
    """The header's unread count, fetched by htmx after the page is shown (and every
    minute): one count through the partial index, and no query added to any page."""
    count = selectors.unread_count(current_user(request))
    return render(request, "desk/notify/badge.html", {"unread": count})
