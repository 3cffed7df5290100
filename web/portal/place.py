"""Where a person is in the portal: their communities, the current one, their role in it.

The current community is kept in the session (until chosen: the first the user represents,
else the first by name). It is only ever a choice among the user's own communities (community_scope, narrowed to their memberships: staff see every community
through the scope, but the portal speaks for a member), so a stale or forged id in the
session simply falls back to the first of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import HttpRequest

from communities.models import Community, Membership
from communities.selectors import community_scope, membership_roles
from core.models import User
from web.access import current_user

SESSION_KEY = "portal_community_id"


def portal_communities(user: User, roles: dict[int, str] | None = None) -> QuerySet[Community]:
    """The communities the user belongs to, as the tenancy scope gives them."""
    roles = membership_roles(user) if roles is None else roles
    return community_scope(user).filter(pk__in=list(roles))


@dataclass(frozen=True)
class Place:
    communities: list[Community]
    community: Community | None
    roles: dict[int, str] = field(default_factory=dict)

    @property
    def is_representative(self) -> bool:
        return (
            self.community is not None
            and self.roles.get(self.community.pk) == Membership.Role.REPRESENTATIVE
        )

    def role_in(self, community: Community) -> str | None:
        return self.roles.get(community.pk)


def portal_place(request: HttpRequest) -> Place:
    user = current_user(request)
    roles = membership_roles(user)
    if not roles:
        return Place(communities=[], community=None)
    communities = list(portal_communities(user, roles))
    chosen = request.session.get(SESSION_KEY)
    # Until they choose, people start where they speak for the community (approvals wait
    # there), else in their first community by name.
    community = (
        next((c for c in communities if c.pk == chosen), None)
        or next((c for c in communities if roles[c.pk] == Membership.Role.REPRESENTATIVE), None)
        or (communities[0] if communities else None)
    )
    return Place(communities=communities, community=community, roles=roles)


def remember_community(request: HttpRequest, community: Community) -> None:
    request.session[SESSION_KEY] = community.pk
