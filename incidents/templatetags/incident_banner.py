"""`{% incident_banner %}`: the portal's banner of active incidents that affect the viewer's
communities, each with its latest public update (two queries; nothing for anonymous
visitors or people with no community)."""

from __future__ import annotations

from typing import Any

from django import template

from incidents.selectors import banners

register = template.Library()


@register.inclusion_tag("portal/incidents/banner.html", takes_context=True)
def incident_banner(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"banners": []}
    return {"banners": banners(user)}
