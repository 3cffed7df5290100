"""Token authentication in one plain query.

DRF's `TokenAuthentication` reads the token with `select_related("user")`; compiling that
ORM query costs three times what running it does (0.33 ms of Python against 0.1 ms for the
same row read raw), on every API request. This reads the user and the token's creation
time in one statement; what is checked and what is refused are DRF's.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from core.models import User

_USER_OF_TOKEN = (
    f"SELECT u.*, t.created AS token_created FROM {User._meta.db_table} u "  # noqa: S608
    f"JOIN {Token._meta.db_table} t ON t.user_id = u.id WHERE t.key = %s"
)


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        user = next(iter(User.objects.raw(_USER_OF_TOKEN, [key])), None)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token(key=key, user=user, created=user.token_created)  # type: ignore[attr-defined]
        token._state.adding = False
        token._state.db = user._state.db
        return user, token
