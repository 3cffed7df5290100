"""The community portal: a community's requests, new requests, approvals and the survey.

Every view parses with a form, calls one service (or reads through the tenancy scopes),
and renders. Tickets come only through web.access.ticket_or_404 / tickets.selectors, and
only public messages are shown, even to an agent looking at the portal.
"""

from web.portal.views.approvals import approvals
from web.portal.views.requests import home, new_request, switch_community
from web.portal.views.survey import survey
from web.portal.views.tickets import (
    ticket_detail,
    ticket_rate,
    ticket_reply,
    ticket_transition_view,
)

__all__ = [
    "approvals",
    "home",
    "new_request",
    "survey",
    "switch_community",
    "ticket_detail",
    "ticket_rate",
    "ticket_reply",
    "ticket_transition_view",
]
