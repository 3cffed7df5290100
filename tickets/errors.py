from core.errors import ApplicationError, ErrorKind


class InvalidTransition(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "invalid_transition"


class TransitionNotAllowed(ApplicationError):
    kind = ErrorKind.FORBIDDEN
    code = "transition_not_allowed"


class UnknownTransition(ApplicationError):
    code = "unknown_transition"


class ReasonRequired(ApplicationError):
    code = "reason_required"


class InternalNoteNotAllowed(ApplicationError):
    kind = ErrorKind.FORBIDDEN
    code = "internal_note_not_allowed"


class AttachmentTooLarge(ApplicationError):
    code = "attachment_too_large"


class AttachmentTypeRefused(ApplicationError):
    code = "attachment_type_refused"


class AssigneeNotAgent(ApplicationError):
    code = "assignee_not_agent"


class TicketClosed(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "ticket_closed"


class TicketChanged(ApplicationError):
    """The ticket changed since the agent loaded it (another reply, a status change)."""

    kind = ErrorKind.CONFLICT
    code = "ticket_changed"


class MergeRefused(ApplicationError):
    code = "merge_refused"


class LinkRefused(ApplicationError):
    code = "link_refused"


class SurveyLinkInvalid(ApplicationError):
    kind = ErrorKind.NOT_FOUND
    code = "survey_link_invalid"


class SurveyAlreadyAnswered(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "survey_already_answered"
