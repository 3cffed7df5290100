import factory

from knowledgebase.models import Article, ArticleFeedback, ArticleKind, Audience, Category
from knowledgebase.states import ArticleStatus
from tests.core.factories import AgentFactory


class KbCategoryFactory(factory.django.DjangoModelFactory[Category]):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ArticleFactory(factory.django.DjangoModelFactory[Article]):
    """A published public article written and owned by an agent."""

    class Meta:
        model = Article
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Article {n}")
    slug = factory.Sequence(lambda n: f"article-{n}")
    summary = "What this article answers."
    body = "Some **useful** text."
    kind = ArticleKind.FAQ
    audience = Audience.PUBLIC
    status = ArticleStatus.PUBLISHED
    category = factory.SubFactory(KbCategoryFactory)
    author = factory.SubFactory(AgentFactory)
    owner = factory.LazyAttribute(lambda o: o.author)

    @factory.post_generation
    def communities(self, create: bool, extracted: list[object] | None, **kwargs: object) -> None:
        if create and extracted:
            self.communities.set(extracted)


class FeedbackFactory(factory.django.DjangoModelFactory[ArticleFeedback]):
    class Meta:
        model = ArticleFeedback

    article = factory.SubFactory(ArticleFactory)
    helpful = True
