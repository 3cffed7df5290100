"""Every write of routing, one module per concern (STYLE.md: grow a module into a package).

The desk calls `ticket_reroute` and `ticket_escalate` from here; the rest is configuration
(`routing.services.config`) and the learned model (`routing.services.learned`)."""

from routing.services.routing import (
    rules_test,
    ticket_escalate,
    ticket_reroute,
    ticket_route,
    waiting_tickets_assign,
)

__all__ = [
    "rules_test",
    "ticket_escalate",
    "ticket_reroute",
    "ticket_route",
    "waiting_tickets_assign",
]
