"""Reads of the SLA capability: which calendar and policy apply, and what the desk, the
ticket page and the API show (badges, clocks, the breaching-soon queue, compliance).

Everything that shows a ticket's clocks to a person takes tickets the caller has already
scoped (tickets.selectors.ticket_scope); compliance scopes by community itself.
"""

from slas.selectors.clocks import (
    Badge,
    Clock,
    TicketClocks,
    current_clocks,
    humanize,
    sla_badges,
    sla_clocks,
    ticket_clocks,
    tickets_breaching_soon,
)
from slas.selectors.compliance import MetricCompliance, PercentileCont, sla_compliance
from slas.selectors.matching import (
    GridCell,
    PolicyMatch,
    Preview,
    PreviewLine,
    SLASetup,
    calendar_for,
    policy_grid,
    policy_match,
    rule_of_policy,
    schedule_of,
    sla_preview,
    sla_setup,
)

__all__ = [
    "Badge", "Clock", "GridCell", "MetricCompliance", "PercentileCont", "PolicyMatch", "Preview",
    "PreviewLine", "SLASetup", "TicketClocks", "calendar_for", "current_clocks", "humanize", "policy_grid",
    "policy_match", "rule_of_policy", "schedule_of", "sla_badges", "sla_clocks", "sla_compliance",
    "sla_preview", "sla_setup", "ticket_clocks", "tickets_breaching_soon",
]  # fmt: skip
