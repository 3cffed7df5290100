"""An article's life on one screen: statuses, and the transitions between them.

No queries and no I/O here. `knowledgebase.services.article_transition` is the one function
that applies a transition; nothing else assigns `Article.status`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    sources: frozenset[ArticleStatus]
    target: ArticleStatus
    # The one who applies it must not be the article's author (KB_REVIEWER_MUST_DIFFER).
    is_review: bool = False
    requires_reason: bool = False


_S = ArticleStatus

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        Transition("submit", "Send for review", frozenset({_S.DRAFT}), _S.IN_REVIEW),
        Transition("approve", "Approve and publish", frozenset({_S.IN_REVIEW}), _S.PUBLISHED,
                   is_review=True),
        Transition("reject", "Send back to draft", frozenset({_S.IN_REVIEW}), _S.DRAFT,
                   is_review=True, requires_reason=True),
        # A published article being reworked goes back through review before it changes.
        Transition("revise", "Withdraw for revision", frozenset({_S.PUBLISHED}), _S.DRAFT),
        Transition("archive", "Archive", frozenset({_S.DRAFT, _S.IN_REVIEW, _S.PUBLISHED}),
                   _S.ARCHIVED),
        Transition("unarchive", "Restore from archive", frozenset({_S.ARCHIVED}), _S.DRAFT),
    ]
}  # fmt: skip


def transitions_from(status: str) -> list[Transition]:
    """The transitions an article in `status` may take, in the table's order."""
    return [t for t in TRANSITIONS.values() if status in t.sources]
