"""Which app reacts to which event: the whole flow between apps, in one table.

Events are published by services (tickets.events, ...) in the transaction that makes the
change; core.outbox turns each row below into a delivery that a worker runs on the queue
given here. A handler is `def handler(*, event: core.models.Event) -> None`, idempotent.
"""

from core.outbox import Reaction

REACTIONS: tuple[Reaction, ...] = (
    # A ticket entered the workflow (opened by a representative, or approved): route it.
    Reaction("ticket.opened", "routing.handlers.route_ticket", queue="routing"),
    Reaction("ticket.approved", "routing.handlers.route_ticket", queue="routing"),
    # A member who is not a representative asked for help: ask the representatives.
    Reaction("ticket.approval_requested", "tickets.notifications.ask_representatives_to_approve"),
    # The representatives declined: tell the requester why.
    Reaction("ticket.declined", "tickets.notifications.tell_requester_declined"),
    # Resolved: ask the requester how we did (a signed link, valid 14 days, used once).
    Reaction("ticket.resolved", "tickets.notifications.send_satisfaction_survey"),
    # A duplicate was merged: point its requester at the ticket that carries on.
    Reaction("ticket.merged", "tickets.notifications.tell_requester_merged"),
)
