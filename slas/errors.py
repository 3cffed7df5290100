"""Typed errors of the SLA capability, with stable codes."""

from __future__ import annotations

from core.errors import ApplicationError, ErrorKind
from slas.business_time import ScheduleInvalid


class CalendarInvalid(ApplicationError):
    """A calendar that cannot be used; `code` says why (overlap, end_before_start,
    longer_than_a_day, no_working_time, unknown_time_zone, …)."""

    code = "calendar_invalid"

    @classmethod
    def from_schedule(cls, exc: ScheduleInvalid) -> CalendarInvalid:
        error = cls(exc.message, field=exc.field)
        error.code = exc.code
        return error


class HolidayFileInvalid(ApplicationError):
    code = "holiday_file_invalid"


class ComplianceQueryInvalid(ApplicationError):
    code = "invalid"


class PolicyInUse(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "policy_in_use"
