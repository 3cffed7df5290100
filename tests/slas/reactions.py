"""The reaction table the sweep tests run with: the project's SLA reactions, and a stand-in
for what reacts to breaches (paging, routing), so that the tests do not depend on them."""

from core.models import Event
from core.outbox import Reaction
from supportdesk.events import REACTIONS as PROJECT


def record(*, event: Event) -> None:
    """A breach reached its reaction."""


REACTIONS = (
    *(r for r in PROJECT if r.handler.startswith("slas.")),
    Reaction("sla.breached", f"{__name__}.record", queue="paging"),
)
