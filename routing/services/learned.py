"""The learned suggestion, fed from the desk's own tickets (routing.learning does the maths)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from routing import learning
from tickets.models import Category, Ticket
from tickets.states import FINISHED


def model_path() -> Path:
    return Path(settings.ROUTING_MODEL_PATH)


def ticket_text(subject: str, description: str) -> str:
    return f"{subject}\n{description}"


@dataclass(frozen=True)
class TrainingReport:
    version: str
    path: Path
    samples: int
    per_category: dict[str, int]
    left_out: dict[str, int]  # categories with too few tickets to learn from


def router_train(
    *, path: Path | None = None, min_per_category: int = 5, limit: int = 50_000
) -> TrainingReport:
    """Fit the suggestion model on the final category of resolved and closed tickets (the
    newest `limit`), and write it to `path` (ROUTING_MODEL_PATH). Categories with fewer
    than `min_per_category` tickets are left out. Raises learning.NotEnoughData."""
    rows = list(
        Ticket.objects.filter(status__in=list(FINISHED), category__isnull=False)
        .order_by("-id")
        .values_list("subject", "description", "category__slug")[:limit]
    )
    counts = Counter(slug for _, _, slug in rows)
    kept = {slug for slug, n in counts.items() if n >= min_per_category}
    texts = [ticket_text(s, d) for s, d, slug in rows if slug in kept]
    labels = [slug for _, _, slug in rows if slug in kept]
    if len(kept) < 2:
        raise learning.NotEnoughData(
            f"Need resolved tickets of at least two categories with {min_per_category} or more "
            f"tickets each; found {dict(counts) or 'none'}."
        )
    model = learning.train(texts, labels)
    target = path or model_path()
    learning.save(model, target)
    return TrainingReport(
        version=model.version,
        path=target,
        samples=len(texts),
        per_category={slug: counts[slug] for slug in sorted(kept)},
        left_out={slug: n for slug, n in sorted(counts.items()) if slug not in kept},
    )


@dataclass(frozen=True)
class CategorySuggestion:
    suggestion: learning.Suggestion
    category: Category | None  # None when the label names no active category any more
    threshold: float

    @property
    def usable(self) -> bool:
        return self.category is not None and self.suggestion.confidence >= self.threshold

    def as_dict(self, *, used: bool) -> dict[str, object]:
        return {
            "label": self.suggestion.label,
            "category_id": self.category.pk if self.category else None,
            "category": self.category.name if self.category else None,
            "confidence": self.suggestion.confidence,
            "threshold": self.threshold,
            "used": used,
            "words": list(self.suggestion.words),
            "model_version": self.suggestion.model_version,
        }


def category_suggest(*, subject: str, description: str) -> CategorySuggestion | None:
    """What the model thinks the category is, or None when there is no model."""
    model = learning.model_for(model_path())
    if model is None:
        return None
    suggestion = model.suggest(ticket_text(subject, description))
    category = Category.objects.filter(slug=suggestion.label, active=True).first()
    return CategorySuggestion(
        suggestion, category, float(settings.ROUTING_SUGGESTION_MIN_CONFIDENCE)
    )
