"""Template helpers of the desk and the portal."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from slas.selectors import Badge, humanize
from tickets.models import Severity, Ticket
from tickets.states import TicketStatus
from web.markdown import render_markdown

register = template.Library()

_UNITS = ((86400 * 365, "y"), (86400 * 30, "mo"), (86400, "d"), (3600, "h"), (60, "min"))


def relative(value: datetime, now: datetime) -> str:
    """'3 h ago', 'in 12 min', 'just now'."""
    seconds = (value - now).total_seconds()
    future, span = seconds > 0, abs(seconds)
    if span < 45:
        return "in a moment" if future else "just now"
    for size, unit in _UNITS:
        if span >= size * 0.95 or unit == "min":
            amount = max(1, round(span / size))
            return f"in {amount} {unit}" if future else f"{amount} {unit} ago"
    raise AssertionError("unreachable")


@register.filter
def exact(value: datetime) -> str:
    """The instant in the viewer's time zone, to the minute: '2024-06-03 14:00 CEST'."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")


@register.filter
def reltime(value: datetime | None) -> SafeString | str:
    """A <time> saying how long ago (or how soon), with the exact local time on hover."""
    if value is None:
        return "—"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        exact(value),
        relative(value, timezone.now()),
    )


@register.filter
def markdown(value: str) -> SafeString:
    return mark_safe(render_markdown(value))  # noqa: S308 - sanitised by nh3 in render_markdown


# The badges are simple tags rather than inclusion tags: the queue shows three in each of its
# 50 rows, and an inclusion tag renders a template of its own in a new context each time
# (about 25 µs a badge, against 9).

_BADGE = '<span class="badge badge-{}-{}">{}</span>'
# The labels as get_severity_display() and get_status_display() give them, looked up once.
_SEVERITY_LABELS: dict[str, str] = dict(Severity.choices)
_STATUS_LABELS: dict[str, str] = dict(TicketStatus.choices)


@register.simple_tag
def severity_badge(ticket: object) -> SafeString:
    severity = getattr(ticket, "severity", "")
    return format_html(_BADGE, "severity", severity, _SEVERITY_LABELS.get(severity, severity))


@register.simple_tag
def status_badge(ticket: object) -> SafeString:
    status = getattr(ticket, "status", "")
    return format_html(_BADGE, "status", status, _STATUS_LABELS.get(status, status))


@register.simple_tag
def sla_badge(badges: Mapping[int, Badge], ticket: Ticket) -> SafeString | str:
    """A queue row's SLA clock (slas.selectors.sla_badges): the metric, when it is due (wall
    clock) or how long overdue, or paused, coloured by its level, with the exact due time on
    hover. Nothing for a ticket without a clock that still counts."""
    badge = badges.get(ticket.pk)
    if badge is None:
        return ""
    when: str = "paused"
    if badge.seconds_left is not None:
        left = humanize(timedelta(seconds=badge.seconds_left))
        text = f"due in {left}" if badge.seconds_left > 0 else f"overdue {left}"
        when = format_html(
            '<time datetime="{}" title="Due {}">{}</time>',
            badge.due_at.isoformat(),
            exact(badge.due_at),
            text,
        )
    return format_html(
        '<span class="badge sla sla-{}"><span class="sla-metric">{}:</span> {}</span>',
        badge.level,
        badge.metric_label,
        when,
    )
