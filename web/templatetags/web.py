"""Template helpers of the desk and the portal."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

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
def reltime(value: datetime | None) -> SafeString | str:
    """A <time> saying how long ago (or how soon), with the exact local time on hover."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        local.strftime("%Y-%m-%d %H:%M %Z"),
        relative(value, timezone.now()),
    )


@register.filter
def markdown(value: str) -> SafeString:
    return mark_safe(render_markdown(value))  # noqa: S308 - sanitised by nh3 in render_markdown


@register.inclusion_tag("web/partials/badge.html")
def severity_badge(ticket: object) -> dict[str, str]:
    severity = getattr(ticket, "severity", "")
    label = getattr(ticket, "get_severity_display", lambda: severity)()
    return {"kind": "severity", "value": severity, "label": label}


@register.inclusion_tag("web/partials/badge.html")
def status_badge(ticket: object) -> dict[str, str]:
    status = getattr(ticket, "status", "")
    label = getattr(ticket, "get_status_display", lambda: status)()
    return {"kind": "status", "value": status, "label": label}
