import re

import pytest

from knowledgebase import demo
from knowledgebase.models import Article, Audience, Category
from knowledgebase.states import ArticleStatus
from tests.communities.factories import CommunityFactory
from tests.core.factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_the_demo_knowledge_base_is_published_through_the_workflow_once():
    AgentFactory.create(email=demo.AUTHOR)
    reviewer = AgentFactory.create(email=demo.REVIEWER)
    CommunityFactory.create(slug="kestrel")
    demo.seed()
    demo.seed()
    assert Category.objects.count() == len(demo.CATEGORIES)
    assert Article.objects.count() == len(demo.ARTICLES) + 1
    published = Article.objects.filter(status=ArticleStatus.PUBLISHED)
    assert published.count() == len(demo.ARTICLES)
    assert set(published.values_list("reviewer", flat=True)) == {reviewer.pk}
    assert Article.objects.filter(status=ArticleStatus.IN_REVIEW).count() == 1
    kestrel = Article.objects.get(slug="kestrel-gpu-profiles")
    assert (kestrel.audience, [c.slug for c in kestrel.communities.all()]) == (
        Audience.RESTRICTED,
        ["kestrel"],
    )


def test_the_demo_articles_link_only_to_each_other():
    slugs = {spec["slug"] for spec in demo.ARTICLES}
    for spec in demo.ARTICLES:
        for target in re.findall(r"\(/portal/kb/([a-z0-9-]+)/\)", spec["body"]):
            assert target in slugs, (spec["slug"], target)
