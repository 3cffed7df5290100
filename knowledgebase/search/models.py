"""The search index of the articles, and the log of searches.

`ArticleIndex` rows are written by the database itself: a trigger on knowledgebase_article
(migration 0001) keeps `document`, `title_norm` and `text_hash` current on every insert and
on every change of title, summary, tags or body. The `embedding` column is not declared
here: migration 0001 adds it as `vector(384)` where the server has pgvector, otherwise as
`real[]` (knowledgebase.search.embeddings reads which one it is).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone


class ArticleIndex(models.Model):
    article = models.OneToOneField(
        "knowledgebase.Article", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    # Title (A), summary and tags (B), body (C); 'english' stemming over unaccented text.
    document = SearchVectorField()
    # lower(unaccent(title)), for trigram similarity (typos, partial words).
    title_norm = models.TextField()
    # md5 of the text the document was made from, and of the text last embedded: the
    # embedding is stale when they differ.
    text_hash = models.CharField(max_length=32)
    embedded_hash = models.CharField(max_length=32, blank=True)
    embedded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "article index entry"
        verbose_name_plural = "article index"
        indexes: ClassVar = [
            GinIndex(fields=["document"], name="kbsearch_document_gin"),
            GinIndex(fields=["title_norm"], opclasses=["gin_trgm_ops"], name="kbsearch_title_trgm"),
            models.Index(
                fields=["article"],
                condition=~models.Q(embedded_hash=models.F("text_hash")),
                name="kbsearch_embedding_stale",
            ),
        ]

    def __str__(self) -> str:
        return f"index of article {self.article_id}"


class Source(models.TextChoices):
    SEARCH = "search", "Search"
    SUGGEST = "suggest", "Suggestions"


class SearchLog(models.Model):
    """One search (or one typed question the suggestions answered), and what came of it.

    Whether a ticket followed is read from the tickets themselves (the searcher opened one
    within KB_DEFLECTION_DAYS); a deflection is an article opened from the results and no
    ticket within that window, or an explicit "this answered my question"."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="kb_searches",
        db_index=False,  # (user, created_at) below serves every lookup by user
    )
    query = models.CharField(max_length=200)
    # The query as grouped for the analytics: lower-case, spaces collapsed.
    normalized = models.CharField(max_length=200)
    scope = models.CharField(max_length=100, blank=True, help_text="Category slug, if any.")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SEARCH)
    result_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    opened_article = models.ForeignKey(
        "knowledgebase.Article",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # kbsearch_log_opened below serves every lookup by article
    )
    opened_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes: ClassVar = [
            models.Index(fields=["created_at"]),
            models.Index(fields=["user", "created_at"]),
            models.Index(
                fields=["opened_article", "opened_at"],
                condition=models.Q(opened_article__isnull=False),
                name="kbsearch_log_opened",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.query!r} ({self.result_count})"


class Lexeme(models.Model):
    """Every lexeme of the index, with the number of articles holding it. New lexemes are
    added by the index trigger (migration 0002) as articles are saved; `ndoc` is recounted
    by beat (`refresh_lexemes`). The search corrects query words the index does not know
    to the nearest lexemes by trigram similarity (typos), and leaves lexemes held by a
    large share of the articles out of the candidate search (they still count in ranking)."""

    word = models.TextField(primary_key=True)
    ndoc = models.PositiveIntegerField(default=1)

    class Meta:
        indexes: ClassVar = [
            GinIndex(fields=["word"], opclasses=["gin_trgm_ops"], name="kbsearch_lexeme_trgm"),
        ]

    def __str__(self) -> str:
        return self.word
