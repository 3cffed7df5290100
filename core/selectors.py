from __future__ import annotations

from django.db.models import QuerySet

from core.models import User


def agent_list() -> QuerySet[User]:
    """People who work the desk."""
    return User.objects.filter(is_staff=True, is_active=True).order_by("first_name", "email")


def agent_get(*, user_id: int) -> User | None:
    return agent_list().filter(pk=user_id).first()


def user_get_by_email(*, email: str) -> User | None:
    return User.objects.filter(email__iexact=email.strip()).first()
