import pytest

from knowledgebase.models import Audience
from knowledgebase.states import ArticleStatus
from tests.communities.factories import CommunityFactory, MembershipFactory
from tests.knowledgebase.factories import ArticleFactory


@pytest.fixture
def shelf(db):
    """Community A and B, a member of each, and articles for every audience."""
    a, b = CommunityFactory.create(), CommunityFactory.create()
    return {
        "a": a,
        "b": b,
        "member_a": MembershipFactory.create(community=a).user,
        "member_b": MembershipFactory.create(community=b, role="representative").user,
        "public": ArticleFactory.create(title="Public", slug="public"),
        "draft": ArticleFactory.create(title="Draft", slug="draft", status=ArticleStatus.DRAFT),
        "staff": ArticleFactory.create(title="Staff", slug="staff", audience=Audience.STAFF),
        "for_a": ArticleFactory.create(
            title="For A", slug="for-a", audience=Audience.RESTRICTED, communities=[a]
        ),
        "for_b": ArticleFactory.create(
            title="For B", slug="for-b", audience=Audience.RESTRICTED, communities=[b]
        ),
    }
