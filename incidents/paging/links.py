"""Signed one-click links to acknowledge or resolve a page, for email, SMS and webhooks.

A link names the page, the action and the person it was sent to (who is recorded as the
actor), signed with SECRET_KEY and this module's salt, and expires after
PAGING_LINK_MAX_AGE_SECONDS. It carries no state: using it twice is harmless, because the
actions themselves are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from incidents.paging.errors import LinkExpired, LinkInvalid

SALT = "incidents.paging.links"
ACTIONS = ("acknowledge", "resolve")


@dataclass(frozen=True)
class PageLink:
    page_id: int
    action: str
    user_id: int | None


def link_token(*, page_id: int, action: str, user_id: int | None) -> str:
    assert action in ACTIONS, action
    token: str = signing.TimestampSigner(salt=SALT).sign_object(
        {"p": page_id, "a": action, "u": user_id}
    )
    return token


def link_url(*, page_id: int, action: str, user_id: int | None) -> str:
    token = link_token(page_id=page_id, action=action, user_id=user_id)
    return str(settings.SITE_URL).rstrip("/") + reverse("paging:link", args=[token])


def page_actions(*, page_id: int, user_id: int | None) -> dict[str, str]:
    """The actions every notification of a page carries (label → URL)."""
    return {
        "Acknowledge": link_url(page_id=page_id, action="acknowledge", user_id=user_id),
        "Resolve": link_url(page_id=page_id, action="resolve", user_id=user_id),
    }


def link_read(token: str) -> PageLink:
    """What a link says; LinkExpired past its age, LinkInvalid for anything tampered with."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        data = signer.unsign_object(token, max_age=settings.PAGING_LINK_MAX_AGE_SECONDS)
    except signing.SignatureExpired as exc:
        raise LinkExpired("This link has expired. Open the page on the desk instead.") from exc
    except signing.BadSignature as exc:
        raise LinkInvalid("This link is not valid.") from exc
    try:
        page_id = int(data["p"])
        action = str(data["a"])
        user_id = None if data.get("u") is None else int(data["u"])
    except (KeyError, TypeError, ValueError) as exc:
        raise LinkInvalid("This link is not valid.") from exc
    if action not in ACTIONS:
        raise LinkInvalid("This link is not valid.")
    return PageLink(page_id=page_id, action=action, user_id=user_id)
