"""Shapes of the knowledge-base API. Input serializers only parse; output ones only render."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from knowledgebase.models import Article, ArticleFeedback, ArticleKind, Audience, Category
from knowledgebase.states import TRANSITIONS


@extend_schema_serializer(component_name="ArticleCategory")
class CategorySerializer(serializers.ModelSerializer[Category]):
    parent: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="slug", read_only=True
    )

    class Meta:
        model = Category
        fields = ("id", "slug", "name", "description", "parent", "position")
        read_only_fields = fields


class _PersonSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="display_name")


class ArticleSerializer(serializers.ModelSerializer[Article]):
    """What every reader sees of an article in a list."""

    category: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = Article
        fields: tuple[str, ...] = (
            "id", "url", "slug", "title", "summary", "kind", "category", "tags", "published_at",
            "updated_at", "helpful_yes", "helpful_no", "view_count",
        )  # fmt: skip
        read_only_fields = fields

    def get_url(self, article: Article) -> str:
        return reverse("api:kb-article-detail", kwargs={"pk": article.pk})


class StaffArticleSerializer(ArticleSerializer):
    """Agents also see the workflow: status, audience, owner, reviewer, review date."""

    owner = _PersonSerializer()
    communities = serializers.SerializerMethodField()

    class Meta(ArticleSerializer.Meta):
        fields = (
            *ArticleSerializer.Meta.fields, "status", "audience", "communities", "owner",
            "review_by", "created_at", "submitted_at",
        )  # fmt: skip
        read_only_fields = fields

    def get_communities(self, article: Article) -> list[str]:
        # Prefetched by the list (knowledgebase.selectors.article_list).
        return [c.slug for c in article.communities.all()]


class ArticleDetailSerializer(ArticleSerializer):
    class Meta(ArticleSerializer.Meta):
        fields = (*ArticleSerializer.Meta.fields, "body", "body_html")
        read_only_fields = fields


class StaffArticleDetailSerializer(StaffArticleSerializer):
    author = _PersonSerializer()
    reviewer = _PersonSerializer(allow_null=True)
    linked_tickets = serializers.SerializerMethodField()

    class Meta(StaffArticleSerializer.Meta):
        fields = (
            *StaffArticleSerializer.Meta.fields, "author", "reviewer", "linked_tickets", "body",
            "body_html",
        )  # fmt: skip
        read_only_fields = fields

    def get_linked_tickets(self, article: Article) -> list[str]:
        return [t.reference for t in article.linked_tickets.all()]


class ArticleWriteSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(trim_whitespace=True)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    slug = serializers.SlugField(required=False, allow_blank=True, max_length=200)
    kind = serializers.ChoiceField(choices=ArticleKind.choices, required=False)
    audience = serializers.ChoiceField(choices=Audience.choices, required=False)
    communities = serializers.ListField(
        child=serializers.SlugField(), required=False, max_length=500
    )
    category = serializers.SlugField(required=False, allow_null=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=20
    )
    owner = serializers.IntegerField(required=False)
    review_by = serializers.DateField(required=False, allow_null=True)
    linked_tickets = serializers.ListField(
        child=serializers.CharField(max_length=30), required=False, max_length=100
    )


class ArticleUpdateSerializer(ArticleWriteSerializer):
    title = serializers.CharField(max_length=200, required=False)
    body = serializers.CharField(required=False)


@extend_schema_serializer(component_name="ArticleTransition")
class TransitionSerializer(serializers.Serializer[Any]):
    transition = serializers.ChoiceField(choices=sorted(TRANSITIONS))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class RestoreSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(min_value=1)


class FromTicketSerializer(serializers.Serializer[Any]):
    ticket = serializers.CharField(max_length=30)


class FeedbackWriteSerializer(serializers.Serializer[Any]):
    helpful = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class FeedbackSerializer(serializers.ModelSerializer[ArticleFeedback]):
    user = _PersonSerializer(allow_null=True)

    class Meta:
        model = ArticleFeedback
        fields = ("id", "helpful", "comment", "user", "created_at")
        read_only_fields = fields


class VersionSerializer(serializers.Serializer[Any]):
    version = serializers.IntegerField(source="history_id")
    at = serializers.DateTimeField(source="history_date")
    by = serializers.SerializerMethodField()
    reason = serializers.CharField(source="history_change_reason", allow_null=True)
    title = serializers.CharField()
    status = serializers.CharField()

    def get_by(self, version: Any) -> str | None:
        user = version.history_user
        return user.display_name if user is not None else None
