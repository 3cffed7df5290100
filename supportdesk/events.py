"""Which app reacts to which event: the whole flow between apps, in one table.

Events are published by services (tickets.events, ...) in the transaction that makes the
change; core.outbox turns each row below into a delivery that a worker runs on the queue
given here. A handler is `def handler(*, event: core.models.Event) -> None`, idempotent.
"""

from core.outbox import Reaction


def _sla_sync(event: str, *, when: str = "") -> Reaction:
    return Reaction(
        event,
        "slas.handlers.sync_ticket_clocks",
        queue="slas",
        when=when,
        batch="slas.handlers.sync_many_ticket_clocks",
    )


def _priority_refresh(event: str, *, when: str = "") -> Reaction:
    return Reaction(
        event,
        "reports.handlers.refresh_ticket_priority",
        when=when,
        batch="reports.handlers.refresh_ticket_priorities",
    )


REACTIONS: tuple[Reaction, ...] = (
    # A ticket entered the workflow (opened by a representative, or approved): route it.
    # A worker with a backlog routes the waiting tickets in batches (core.outbox).
    Reaction(
        "ticket.opened",
        "routing.handlers.route_ticket",
        queue="routing",
        batch="routing.handlers.route_tickets",
    ),
    Reaction(
        "ticket.approved",
        "routing.handlers.route_ticket",
        queue="routing",
        batch="routing.handlers.route_tickets",
    ),
    # A member who is not a representative asked for help: ask the representatives.
    Reaction("ticket.approval_requested", "tickets.notifications.ask_representatives_to_approve"),
    # Mail (tickets.mail outbox): acknowledge every request with its reference; tell the
    # requester it was approved; mail an agent's public reply (a note never mails).
    Reaction("ticket.opened", "tickets.notifications.acknowledge_request"),
    Reaction("ticket.approval_requested", "tickets.notifications.acknowledge_request"),
    Reaction("ticket.approved", "tickets.notifications.tell_requester_approved"),
    Reaction(
        "ticket.message_added",
        "tickets.notifications.send_staff_reply",
        when="tickets.notifications.public_staff_reply",
    ),
    # The representatives declined: tell the requester why.
    Reaction("ticket.declined", "tickets.notifications.tell_requester_declined"),
    # Resolved: ask the requester how we did (a signed link, valid 14 days, used once).
    Reaction("ticket.resolved", "tickets.notifications.send_satisfaction_survey"),
    # A duplicate was merged: point its requester at the ticket that carries on.
    Reaction("ticket.merged", "tickets.notifications.tell_requester_merged"),
    # SLA clocks: arm (submitted, opened, approved), pause and resume (waiting on the
    # customer), meet (public replies, resolve), recompute (severity, kind), cancel (merged).
    # One reaction replays the ticket's audit trail in order, so each is idempotent; the
    # status changes and field changes that cannot move a clock (new → assigned, a new
    # tier) are left for the next sync to replay rather than synced on their own.
    # A worker with a backlog syncs the waiting tickets in batches, each ticket once.
    _sla_sync("ticket.opened"),
    _sla_sync("ticket.approval_requested"),
    _sla_sync("ticket.approved"),
    _sla_sync("ticket.status_changed", when="slas.handlers.status_change_matters"),
    _sla_sync("ticket.message_added"),
    _sla_sync("ticket.updated", when="slas.handlers.update_matters"),
    _sla_sync("ticket.merged"),
    # The sweeper warned, once, that a clock is about to breach: tell the assignee.
    Reaction("sla.warning", "slas.notifications.tell_assignee_breach_near"),
    # The sweeper recorded a breach, once (slas.services.sweep): page by the ticket's
    # severity (paging's routes); every breach of a ticket attaches to its open page.
    Reaction("sla.breached", "incidents.paging.handlers.page_sla_breach", queue="paging"),
    # Routing: a breach moves the ticket one tier up, once per breach event (the escalation
    # remembers the event's id); nothing happens at the emergency tier.
    Reaction("sla.breached", "routing.handlers.escalate_on_sla_breach", queue="routing"),
    # An agent is back, takes more tickets or learned a skill: hand them waiting tickets.
    Reaction("agent.capacity_changed", "routing.handlers.assign_waiting_tickets", queue="routing"),
    # Routing also publishes `ticket.critical` (a ticket routed as critical goes to the
    # emergency tier) and `ticket.escalated` (an agent or a breach changed its tier). A
    # critical ticket pages the on-call engineer, once per open page of the ticket.
    Reaction("ticket.critical", "incidents.paging.handlers.page_critical_ticket", queue="paging"),
    # An article's review-by date passed: its owner is reminded, once per article and period
    # (knowledgebase.services.review_reminders_send writes the reminder row with the event).
    Reaction("kb.review_due", "knowledgebase.notifications.remind_owner_review_due"),
    # Reports: the budget-aware priority (seed 004) stored on each ticket, re-ranked when its
    # inputs change: it enters the desk, its kind changes, it is linked or unlinked; time
    # logged re-ranks the community's open tickets and sends the 80 % / 100 % budget notices.
    # A worker with a backlog re-ranks the waiting tickets in batches, each ticket once.
    _priority_refresh("ticket.opened"),
    _priority_refresh("ticket.approval_requested"),
    _priority_refresh("ticket.updated", when="reports.handlers.kind_changed"),
    _priority_refresh("ticket.linked"),
    _priority_refresh("ticket.unlinked"),
    Reaction("time.logged", "reports.handlers.budget_changed"),
)
