"""Reads of paging shared by the API, the desk and the admin."""

from __future__ import annotations

from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When

from incidents.paging.models import Page, PageEvent, PageState


def pages_list() -> QuerySet[Page]:
    """Pages with what a list shows (policy, ticket, community, who acknowledged and
    resolved), newest first: one query."""
    return Page.objects.select_related(
        "policy", "ticket", "community", "acknowledged_by", "resolved_by"
    ).order_by("-created_at", "-id")


def open_pages() -> QuerySet[Page]:
    """Open pages first (triggered, then acknowledged), then resolved ones; newest first
    within each: one query, whatever the number of pages."""
    return pages_list().order_by(
        Case(
            When(state=PageState.TRIGGERED, then=Value(0)),
            When(state=PageState.ACKNOWLEDGED, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        ),
        "-created_at",
        "-id",
    )


def page_with_timeline() -> QuerySet[Page]:
    """Pages with their timelines prefetched (one more query for any number of pages)."""
    return pages_list().prefetch_related(
        Prefetch("events", queryset=PageEvent.objects.select_related("actor").order_by("at", "id"))
    )


def page_timeline(page: Page) -> QuerySet[PageEvent]:
    """Everything that happened to the page, oldest first, with who did it."""
    return PageEvent.objects.filter(page=page).select_related("actor").order_by("at", "id")


def page_notifications(page: Page):  # type: ignore[no-untyped-def]
    """The page's notifications with their deliveries (incidents.notify)."""
    from incidents.notify.selectors import notifications_for

    return notifications_for("page", page.pk)
