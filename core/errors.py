"""Typed domain errors with stable codes. One API handler maps their kind to HTTP."""

from __future__ import annotations

import enum
from typing import Any


class ErrorKind(enum.Enum):
    INVALID = "invalid"  # 400: the input breaks a rule
    FORBIDDEN = "forbidden"  # 403: visible to you, but not yours to change
    NOT_FOUND = "not_found"  # 404: missing, or not yours (the same answer)
    CONFLICT = "conflict"  # 409: not in this state


class ApplicationError(Exception):
    kind: ErrorKind = ErrorKind.INVALID
    code: str = "invalid"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra


class NotFound(ApplicationError):
    kind = ErrorKind.NOT_FOUND
    code = "not_found"


class Forbidden(ApplicationError):
    kind = ErrorKind.FORBIDDEN
    code = "permission_denied"
