"""What the portal's choices mean, in the words of the support handbooks.

Kinds follow seed 004 (the support process: incidents, change, guidance and workshop
requests); severities follow seed 000, Appendix B (the escalation matrix).
"""

from __future__ import annotations

from tickets.models import Severity, TicketKind

KIND_HELP: dict[str, str] = {
    TicketKind.INCIDENT: (
        "Something that worked is broken or degraded for your community. "
        "Incidents are handled before everything else."
    ),
    TicketKind.CHANGE_REQUEST: "A change to your community's service.",
    TicketKind.GUIDANCE_REQUEST: "Advice on how to do something with the service.",
    TicketKind.WORKSHOP_REQUEST: (
        "Prepare the service for a workshop or event on a given date; say when in the description."
    ),
    TicketKind.QUESTION: "Anything else.",
}

SEVERITY_HELP: dict[str, str] = {
    Severity.CRITICAL: (
        "Production system down, a security breach, data corruption, "
        "or the service completely unavailable."
    ),
    Severity.HIGH: (
        "Significant slowdown, a feature completely broken, a security vulnerability, "
        "or many users affected."
    ),
    Severity.MEDIUM: "Partly working, a workaround exists, or one user affected.",
    Severity.LOW: (
        "Documentation questions, feature requests, best-practice guidance or training."
    ),
}

# What the portal offers as buttons; every other transition belongs to the desk.
PORTAL_TRANSITIONS: tuple[str, ...] = ("confirm", "reopen", "approve", "decline")
