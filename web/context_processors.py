from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Which areas the header offers: the desk to agents, the portal to members."""
    user = request.user
    if not user.is_authenticated:
        return {"nav_is_agent": False}
    return {"nav_is_agent": bool(user.is_staff and user.is_active)}
