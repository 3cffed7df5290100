"""One place maps every error to HTTP: domain errors by kind, Django's by type.

The body is drf-standardized-errors' format, with stable codes:
    {"type": "validation_error", "errors": [{"code": "required", "detail": "...", "attr": "subject"}]}
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_standardized_errors.handler import ExceptionHandler as BaseExceptionHandler
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail

from core.errors import ApplicationError, ErrorKind


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource is not in a state that allows this."
    default_code = "conflict"


_STATUS_BY_KIND = {
    ErrorKind.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorKind.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    ErrorKind.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorKind.CONFLICT: status.HTTP_409_CONFLICT,
}


def api_exception_for(error: ApplicationError) -> exceptions.APIException:
    if error.kind is ErrorKind.INVALID:
        detail = exceptions.ErrorDetail(error.message, code=error.code)
        if error.field:
            return exceptions.ValidationError({error.field: [detail]})
        return exceptions.ValidationError({"non_field_errors": [detail]})
    if error.kind is ErrorKind.NOT_FOUND:
        # "Missing" and "not yours" read the same.
        return exceptions.NotFound()
    exc = exceptions.APIException(detail=error.message, code=error.code)
    exc.status_code = _STATUS_BY_KIND[error.kind]
    return exc


class ExceptionHandler(BaseExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, ApplicationError):
            return api_exception_for(exc)
        if isinstance(exc, ObjectDoesNotExist):
            return exceptions.NotFound()
        if isinstance(exc, DjangoValidationError):
            detail = get_error_detail(exc)
            if isinstance(detail, list):
                detail = {"non_field_errors": detail}
            return exceptions.ValidationError(detail)
        return super().convert_known_exceptions(exc)
