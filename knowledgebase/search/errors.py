from core.errors import ApplicationError, NotFound


class InvalidQuery(ApplicationError):
    code = "invalid_query"


class UnknownCategory(ApplicationError):
    code = "unknown_category"


class SearchNotFound(NotFound):
    code = "search_not_found"
