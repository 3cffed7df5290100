"""Blocks that apps above tickets add to the ticket payload, without tickets importing them.

`settings.TICKET_PAYLOAD_EXTENSIONS` lists dotted paths to `PayloadExtension`s. Each adds one
key to every ticket the API renders, in lists and in detail:

- `prefetch(tickets)` is called once with the tickets of a page (or the one ticket of a
  detail) and returns {ticket id: value} for every ticket it was given, reading everything
  in a constant number of queries, so that a list costs the same whatever its size;
- `shape()` makes the serializer field that renders one ticket's value; it also documents
  the block in the OpenAPI schema;
- `opened()`, when given, is the value for a ticket the request has just opened, known
  without a query (nothing has happened to the ticket yet): the response to
  `POST /tickets/` uses it.

The tickets handed to `prefetch` have been scoped by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from django.conf import settings
from django.db.models import Manager
from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets.models import Ticket

_PREFETCHED = "ticket_payload_extensions"


@dataclass(frozen=True)
class PayloadExtension:
    name: str
    shape: Callable[[], serializers.Field[Any, Any, Any, Any]]
    prefetch: Callable[[Sequence[Ticket]], Mapping[int, Any]]
    opened: Callable[[], Any] | None = None


# Serializer context: the tickets rendered were opened by this request.
JUST_OPENED = "just_opened"


@cache
def _load(paths: tuple[str, ...]) -> tuple[PayloadExtension, ...]:
    return tuple(import_string(path) for path in paths)


def payload_extensions() -> tuple[PayloadExtension, ...]:
    """The extensions the setting lists, in its order."""
    return _load(tuple(getattr(settings, "TICKET_PAYLOAD_EXTENSIONS", ())))


def _prefetched(
    serializer: serializers.Field[Any, Any, Any, Any],
    extension: PayloadExtension,
    tickets: Sequence[Ticket],
) -> Mapping[int, Any]:
    """What `extension` fetched for the tickets of this serialization (kept in the root
    serializer's context), fetching those it has not seen yet: once per page for a list."""
    context = cast(dict[str, Any], serializer.context)
    known: dict[int, Any] = context.setdefault(_PREFETCHED, {}).setdefault(extension.name, {})
    missing = [ticket for ticket in tickets if ticket.pk not in known]
    if missing and context.get(JUST_OPENED) and extension.opened is not None:
        known.update({ticket.pk: extension.opened() for ticket in missing})
    elif missing:
        known.update(extension.prefetch(missing))
    return known


class ExtensionField(serializers.Field[Any, Any, Any, Any]):
    """One extension's block of a ticket."""

    def __init__(self, extension: PayloadExtension, **kwargs: Any) -> None:
        self.extension = extension
        self.shape = extension.shape()
        super().__init__(source="*", read_only=True, **kwargs)
        extend_schema_field(self.shape)(cast(Any, self))

    def to_representation(self, ticket: Ticket) -> Any:
        return self.shape.to_representation(_prefetched(self, self.extension, [ticket])[ticket.pk])


class TicketListSerializer(serializers.ListSerializer[Ticket]):
    """Tickets in a list: each extension prefetches for the whole page at once."""

    def to_representation(self, data: Any) -> list[Any]:
        tickets = list(data.all() if isinstance(data, Manager) else data)
        for extension in payload_extensions():
            _prefetched(self, extension, tickets)
        return super().to_representation(tickets)


def with_extensions(
    fields: dict[str, serializers.Field[Any, Any, Any, Any]],
) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
    """`fields` and one field per extension."""
    return {**fields, **{e.name: ExtensionField(e) for e in payload_extensions()}}
