"""Routing's domain errors, with stable codes (core.api.exceptions maps their kind to HTTP)."""

from core.errors import ApplicationError, ErrorKind


class RuleInvalid(ApplicationError):
    """A rule that cannot be saved: no condition, no action, a malformed keyword."""

    code = "rule_invalid"


class KeywordInvalid(ApplicationError):
    code = "keyword_invalid"


class EscalationRefused(ApplicationError):
    """Past the emergency tier going up, or past self service going down."""

    kind = ErrorKind.CONFLICT
    code = "escalation_refused"


class ReasonRequired(ApplicationError):
    code = "reason_required"


class NotRoutable(ApplicationError):
    """A ticket that is finished, or still waits for a representative's approval."""

    kind = ErrorKind.CONFLICT
    code = "not_routable"


class NotAnAgent(ApplicationError):
    code = "not_an_agent"
