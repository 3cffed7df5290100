"""Typed errors of paging, with stable codes."""

from __future__ import annotations

from core.errors import ApplicationError, ErrorKind


class PolicyInvalid(ApplicationError):
    """A policy that cannot page anyone as configured; `code` says why (no_notify_step,
    repeat_times_out_of_range, repeat_goes_forward, ...)."""

    code = "policy_invalid"


class PageResolved(ApplicationError):
    """The page is closed: nothing more can be done with it."""

    kind = ErrorKind.CONFLICT
    code = "page_resolved"


class PageNotAcknowledged(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "page_not_acknowledged"


class PageNotTriggered(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "page_not_triggered"


class LinkInvalid(ApplicationError):
    """A one-click link that was tampered with, or names nothing that exists."""

    kind = ErrorKind.NOT_FOUND
    code = "link_invalid"


class LinkExpired(ApplicationError):
    code = "link_expired"
