"""The knowledge base's typed errors, with stable codes (core.api.exceptions maps them)."""

from core.errors import ApplicationError, ErrorKind


class InvalidTransition(ApplicationError):
    """Not possible from the article's current status."""

    kind = ErrorKind.CONFLICT
    code = "invalid_transition"


class UnknownTransition(ApplicationError):
    code = "unknown_transition"


class ReasonRequired(ApplicationError):
    code = "reason_required"


class ReviewerMustDiffer(ApplicationError):
    """KB_REVIEWER_MUST_DIFFER: the author of an article does not review it."""

    kind = ErrorKind.CONFLICT
    code = "reviewer_must_differ"


class ArticleArchived(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "article_archived"


class ArticleInvalid(ApplicationError):
    """A field breaks a rule (empty title, taken slug, restricted to nobody...)."""

    code = "article_invalid"


class UnknownCategory(ApplicationError):
    code = "unknown_category"


class UnknownVersion(ApplicationError):
    kind = ErrorKind.NOT_FOUND
    code = "unknown_version"
