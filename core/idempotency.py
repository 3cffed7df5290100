"""`Idempotency-Key` on POST: the first response is stored and replayed for repeats.

The key is claimed by inserting a row in the same transaction as the work itself, so two
concurrent requests with one key serialise on the unique index: the second waits, then
replays what the first committed. A request that fails (4xx or an exception) rolls back
with its claim, so a corrected retry with the same key is processed afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, QueryDict
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from core.errors import ApplicationError, ErrorKind
from core.models import IdempotencyRecord, User

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

View = TypeVar("View", bound=Callable[..., Any])


class IdempotencyKeyInvalid(ApplicationError):
    code = "idempotency_key_invalid"


class IdempotencyKeyReused(ApplicationError):
    kind = ErrorKind.CONFLICT
    code = "idempotency_key_reused"


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() if request.method else b"")
    digest.update(b"\0")
    digest.update(request.get_full_path().encode())
    digest.update(b"\0")
    if not (request.content_type or "").startswith("multipart/"):
        digest.update(request.body)
        return digest.hexdigest()
    # An upload may be larger than Django lets `request.body` be; hash what was parsed.
    data = cast(QueryDict, request.data)
    for name in sorted(data.keys()):
        value: Any
        for value in data.getlist(name):
            digest.update(name.encode() + b"\0")
            if hasattr(value, "chunks"):
                for chunk in value.chunks():
                    digest.update(chunk)
                value.seek(0)
            else:
                digest.update(str(value).encode())
            digest.update(b"\0")
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    assert record.status_code is not None
    response = HttpResponse(
        bytes(record.body), status=record.status_code, content_type=record.content_type
    )
    response[REPLAYED_HEADER] = "true"
    return response


def idempotent(view: View) -> View:
    """Decorate a DRF view method (`post`, `create`, an action) that takes (self, request, ...)."""

    @wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(self, request, *args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise IdempotencyKeyInvalid(
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.", field=HEADER
            )
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            record, created = IdempotencyRecord.objects.get_or_create(
                user=cast(User, request.user), key=key, defaults={"fingerprint": fingerprint}
            )
            if not created:
                if record.fingerprint != fingerprint:
                    raise IdempotencyKeyReused(
                        f"This {HEADER} was already used for a different request."
                    )
                return _replay(record)
            response = view(self, request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
                return response
            record.status_code = response.status_code
            record.content_type = "application/json"
            record.body = JSONRenderer().render(response.data)
            record.save(update_fields=["status_code", "content_type", "body"])
            return response

    return wrapper  # type: ignore[return-value]


def idempotency_purge() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
