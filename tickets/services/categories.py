"""What tickets are about."""

from __future__ import annotations

from typing import Any

from core.services import model_update
from tickets.models import Category

CATEGORY_FIELDS = ("name", "slug", "parent", "default_tier", "active")


def category_create(
    *,
    name: str,
    slug: str,
    parent: Category | None = None,
    default_tier: str = "community",
    active: bool = True,
) -> Category:
    category = Category(
        name=name, slug=slug, parent=parent, default_tier=default_tier, active=active
    )
    category.full_clean()
    category.save()
    return category


def category_update(*, category: Category, data: dict[str, Any]) -> Category:
    category, _ = model_update(instance=category, fields=CATEGORY_FIELDS, data=data)
    return category
