"""Typed errors of incidents, with stable codes (core.errors maps their kind to HTTP)."""

from core.errors import ApplicationError, ErrorKind, NotFound


class InvalidIncidentInput(ApplicationError):
    code = "invalid"


class UnknownSeverity(ApplicationError):
    code = "unknown_severity"


class TimesOutOfOrder(ApplicationError):
    code = "times_out_of_order"


class InvalidTransition(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "invalid_transition"


class FinalUpdateRequired(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "final_update_required"


class OpenActionItems(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "open_action_items"


class IncidentClosed(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "incident_closed"


class IncidentNotFound(NotFound):
    code = "not_found"
