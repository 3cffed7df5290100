from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.postgres.search import SearchQuery
from django.db.models import QuerySet

from tickets.models import Channel, Severity, Ticket, TicketKind, Tier
from tickets.selectors import parse_reference
from tickets.states import TicketStatus


class TicketFilter(django_filters.FilterSet):  # type: ignore[misc]
    status = django_filters.MultipleChoiceFilter(choices=TicketStatus.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    tier = django_filters.MultipleChoiceFilter(choices=Tier.choices)
    kind = django_filters.MultipleChoiceFilter(choices=TicketKind.choices)
    channel = django_filters.MultipleChoiceFilter(choices=Channel.choices)
    community = django_filters.CharFilter(field_name="community__slug", help_text="Community slug.")
    assignee = django_filters.CharFilter(
        method="filter_assignee", help_text="An agent's id, `me`, or `none` for unassigned."
    )
    requester = django_filters.NumberFilter(field_name="requester_id")
    tag = django_filters.CharFilter(method="filter_tag", help_text="Tickets carrying this tag.")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(
        method="filter_text",
        help_text="Words in the subject or description (web-search syntax), or a reference.",
    )

    class Meta:
        model = Ticket
        fields: list[str] = []

    def filter_assignee(
        self, queryset: QuerySet[Ticket], name: str, value: str
    ) -> QuerySet[Ticket]:
        value = value.strip().lower()
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value == "me":
            return queryset.filter(assignee_id=self.request.user.pk)
        if value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset.none()

    def filter_tag(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        return queryset.filter(tags__contains=[value.strip().lower()])

    def filter_text(self, queryset: QuerySet[Ticket], name: str, value: Any) -> QuerySet[Ticket]:
        ticket_id = parse_reference(value)
        if ticket_id is not None:
            return queryset.filter(pk=ticket_id)
        query = SearchQuery(value, search_type="websearch", config="english")
        return queryset.filter(search=query)
