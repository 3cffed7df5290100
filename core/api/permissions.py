from typing import Any

from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


def _is_agent(request: Request) -> bool:
    return bool(request.user.is_staff and request.user.is_active)


class IsAgentOrReadOnly(BasePermission):
    """Anyone signed in reads what their scope shows; only agents write.

    On a single object the scope is consulted first, so someone who cannot see the object
    gets 404 whether or not they could change it, and only those who can see it get 403.
    """

    message = "Only agents change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        names_an_object = bool(view.lookup_url_kwarg or view.lookup_field) and (
            (view.lookup_url_kwarg or view.lookup_field) in view.kwargs
        )
        return request.method in SAFE_METHODS or names_an_object or _is_agent(request)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return request.method in SAFE_METHODS or _is_agent(request)


class AgentsOnly(BasePermission):
    """Signed-in agents only; anyone else is told the resource does not exist."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if not _is_agent(request):
            raise NotFound()
        return True
