"""POST /api/v1/mail/inbound/: a raw MIME message from a mail server, into intake.

Authenticated by the shared token in MAIL_INBOUND_TOKEN (`Authorization: Bearer <token>`),
not by a person: the mail server is the client. With the setting empty the endpoint does
not exist (404).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tickets.mail.models import Source
from tickets.mail.services import mail_intake

ACCEPTED_TYPES = {"message/rfc822", "application/octet-stream", "text/plain"}


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


@csrf_exempt
@require_POST
def inbound(request: HttpRequest) -> JsonResponse:
    expected = settings.MAIL_INBOUND_TOKEN
    if not expected:
        return _error(404, "not_found", "Not found.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() not in ("bearer", "token") or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        response = _error(401, "not_authenticated", "A valid inbound mail token is required.")
        response["WWW-Authenticate"] = 'Bearer realm="mail"'
        return response
    # Read the stream directly: a message with its attachments is larger than Django's
    # limit for form bodies, and this endpoint has its own (MAIL_INBOUND_MAX_BYTES).
    limit = settings.MAIL_INBOUND_MAX_BYTES
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return _error(413, "too_large", f"Messages may be at most {limit // (1024 * 1024)} MB.")
    if not raw.strip():
        return _error(400, "empty", "The body is empty: send the raw message as message/rfc822.")
    content_type = (request.content_type or "").lower()
    if content_type not in ACCEPTED_TYPES:
        return _error(
            415, "unsupported_media_type", "Send the raw message with Content-Type message/rfc822."
        )
    received = mail_intake(raw, source=Source.HTTP)
    return JsonResponse(
        {
            "message_id": received.message_id,
            "status": received.status,
            "reason": received.reason,
            "detail": received.detail,
            "ticket": received.ticket.reference if received.ticket else None,
        },
        status=200,
    )
