from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

if TYPE_CHECKING:
    from knowledgebase.search.services import SearchResult


class SearchQuerySerializer(serializers.Serializer[dict[str, object]]):
    q = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True, default="")
    category = serializers.SlugField(required=False, allow_blank=True, default="")
    page = serializers.IntegerField(required=False, min_value=1, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=50, default=10)


class SuggestQuerySerializer(serializers.Serializer[dict[str, object]]):
    q = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")


class HitSerializer(serializers.Serializer[object]):
    id = serializers.IntegerField(source="article_id")
    title = serializers.CharField()
    slug = serializers.CharField()
    summary = serializers.CharField()
    kind = serializers.CharField()
    category = serializers.CharField(allow_null=True)
    score = serializers.FloatField()
    title_html = serializers.CharField(help_text="The title, escaped, the query's words in <mark>.")
    snippet_html = serializers.CharField(
        help_text="Passages of the article, escaped, the query's words in <mark>."
    )


@extend_schema_serializer(component_name="ArticleSuggestion")
class SuggestionSerializer(serializers.Serializer[object]):
    id = serializers.IntegerField(source="article_id")
    title = serializers.CharField()
    slug = serializers.CharField()
    summary = serializers.CharField()
    kind = serializers.CharField()
    category = serializers.CharField(allow_null=True)


class SearchResultSerializer(serializers.Serializer[object]):
    query = serializers.CharField()
    search_id = serializers.IntegerField(allow_null=True)
    semantic = serializers.BooleanField(help_text="Whether semantic search took part.")
    count = serializers.IntegerField(source="total")
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    has_next = serializers.BooleanField()
    results = HitSerializer(source="hits", many=True)


class SuggestResultSerializer(serializers.Serializer[object]):
    query = serializers.CharField()
    search_id = serializers.IntegerField(allow_null=True)
    semantic = serializers.BooleanField()
    results = SuggestionSerializer(source="hits", many=True)


def suggestions(result: SearchResult) -> dict[str, Any]:
    """What `SuggestResultSerializer` gives for `result`, built directly: a suggestion is
    asked for at nearly every keystroke, and building the serializers (a deep copy of every
    field, per request) cost a tenth of the request's Python. The serializer stays the
    documented shape; a test holds the two equal."""
    return {
        "query": result.query,
        "search_id": result.search_id,
        "semantic": result.semantic,
        "results": [
            {
                "id": hit.article_id,
                "title": hit.title,
                "slug": hit.slug,
                "summary": hit.summary,
                "kind": hit.kind,
                "category": hit.category,
            }
            for hit in result.hits
        ],
    }


class OpenedSerializer(serializers.Serializer[dict[str, object]]):
    article = serializers.IntegerField(min_value=1)
