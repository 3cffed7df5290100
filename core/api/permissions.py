from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class IsAgentOrReadOnly(BasePermission):
    """Anyone signed in reads (what their scope shows); only agents write."""

    message = "Only agents change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or bool(user.is_staff and user.is_active)
