"""The index and the search log, read-only: the database and the search services write them.
The index's list says whether semantic search runs, and why not when it does not."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from knowledgebase.search import embeddings
from knowledgebase.search.models import ArticleIndex, SearchLog


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ArticleIndex)
class ArticleIndexAdmin(ReadOnly):
    list_display = ("article", "embedded", "embedded_at")
    fields = ("article", "title_norm", "text_hash", "embedded_hash", "embedded_at")
    search_fields = ("title_norm",)

    @admin.display(boolean=True, description="Embedding current")
    def embedded(self, entry: ArticleIndex) -> bool:
        return bool(entry.embedded_hash) and entry.embedded_hash == entry.text_hash

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> Any:
        status = embeddings.status()
        if status["semantic"]:
            self.message_user(
                request, "Semantic search is on: results blend full text and sentence embeddings."
            )
        else:
            self.message_user(
                request,
                f"Semantic search is off ({status['reason']}): full-text search only.",
                level="warning",
            )
        return super().changelist_view(request, extra_context)


@admin.register(SearchLog)
class SearchLogAdmin(ReadOnly):
    list_display = (
        "query",
        "source",
        "result_count",
        "user",
        "opened_article",
        "answered_at",
        "created_at",
    )
    list_filter = ("source",)
    search_fields = ("query",)
    date_hierarchy = "created_at"
    list_select_related = ("user", "opened_article")
