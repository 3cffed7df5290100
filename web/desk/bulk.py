"""Bulk actions of the queue: one service call per selected ticket, each in its own
transaction, so that one refusal leaves the other tickets done and is reported by reference."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from core.errors import ApplicationError
from tickets.models import Ticket
from tickets.services.lifecycle import ticket_assign, ticket_transition, ticket_update
from tickets.states import TRANSITIONS

if TYPE_CHECKING:
    from core.models import User


@dataclass
class BulkResult:
    done: list[Ticket] = field(default_factory=list)
    refused: list[tuple[Ticket, str]] = field(default_factory=list)


def _each(tickets: Iterable[Ticket], apply: Callable[[Ticket], object]) -> BulkResult:
    result = BulkResult()
    for ticket in sorted(tickets, key=lambda t: t.pk):
        try:
            apply(ticket)
        except ApplicationError as error:
            result.refused.append((ticket, error.message))
        except ValidationError as error:
            result.refused.append((ticket, " ".join(error.messages)))
        else:
            result.done.append(ticket)
    return result


def bulk_assign(*, tickets: Iterable[Ticket], assignee: User, actor: User) -> BulkResult:
    return _each(tickets, lambda t: ticket_assign(ticket=t, assignee=assignee, actor=actor))


def bulk_transition(*, tickets: Iterable[Ticket], name: str, actor: User) -> BulkResult:
    if name not in TRANSITIONS:
        raise ValidationError({"transition": ValidationError("Unknown status change.")})
    return _each(tickets, lambda t: ticket_transition(ticket=t, name=name, actor=actor))


def bulk_set_severity(*, tickets: Iterable[Ticket], severity: str, actor: User) -> BulkResult:
    return _each(
        tickets, lambda t: ticket_update(ticket=t, actor=actor, data={"severity": severity})
    )
