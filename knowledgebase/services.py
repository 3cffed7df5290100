"""Every write to the knowledge base: articles, their workflow and versions, votes, views,
and the review reminders. Views, the API, the admin, tasks and the demo all call these."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from core.errors import Forbidden, NotFound
from knowledgebase import events
from knowledgebase.errors import (
    ArticleArchived,
    ArticleInvalid,
    InvalidTransition,
    ReasonRequired,
    ReviewerMustDiffer,
    UnknownCategory,
    UnknownTransition,
    UnknownVersion,
)
from knowledgebase.models import (
    Article,
    ArticleFeedback,
    ArticleKind,
    Audience,
    Category,
    ReviewReminder,
)
from knowledgebase.selectors import is_kb_staff
from knowledgebase.states import TRANSITIONS, ArticleStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from communities.models import Community
    from core.models import User
    from tickets.models import Ticket

# Fields an editor may change through article_create / article_update.
EDITABLE = (
    "title", "slug", "summary", "body", "kind", "audience", "communities", "category", "tags",
    "owner", "review_by", "linked_tickets",
)  # fmt: skip
# What a version holds and a restore brings back (history keeps every field but counters).
RESTORABLE = ("title", "slug", "summary", "body", "kind", "audience", "category_id", "tags")
MAX_TAGS = 20
MAX_COMMENT = 2000


def _require_staff(actor: User | None, what: str) -> User:
    if actor is None or not is_kb_staff(actor):
        raise Forbidden(f"Only agents {what}.")
    return actor


def review_interval() -> timedelta:
    return timedelta(days=int(getattr(settings, "KB_REVIEW_INTERVAL_DAYS", 90)))


def _unique_slug(base: str, *, exclude_pk: int | None = None) -> str:
    root = (slugify(base) or "article")[:180]
    slug, n = root, 1
    taken = Article.objects.exclude(pk=exclude_pk) if exclude_pk else Article.objects.all()
    while taken.filter(slug=slug).exists():
        n += 1
        slug = f"{root}-{n}"
    return slug


def _clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        value = re.sub(r"\s+", "-", str(tag).strip().lower())[:50]
        if value and value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > MAX_TAGS:
        raise ArticleInvalid(f"At most {MAX_TAGS} tags.", field="tags")
    return cleaned


def _category(value: Category | int | str | None) -> Category | None:
    if value is None or value == "":
        return None
    if isinstance(value, Category):
        return value
    lookup = {"pk": value} if isinstance(value, int) or str(value).isdigit() else {"slug": value}
    category = Category.objects.filter(**lookup).first()
    if category is None:
        raise UnknownCategory("No such category.", field="category")
    return category


@dataclass
class _Changes:
    fields: dict[str, Any]
    communities: list[Community] | None
    linked_tickets: list[Ticket] | None


def _validate(article: Article | None, data: Mapping[str, Any]) -> _Changes:
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ArticleInvalid(f"Not editable: {', '.join(sorted(unknown))}.", field=min(unknown))
    fields: dict[str, Any] = {}
    for name in ("title", "summary", "body"):
        if name in data:
            fields[name] = str(data[name] or "").strip()
    if "title" in fields and not fields["title"]:
        raise ArticleInvalid("An article needs a title.", field="title")
    if "title" in fields and len(fields["title"]) > 200:
        raise ArticleInvalid("At most 200 characters.", field="title")
    if "body" in fields and not fields["body"]:
        raise ArticleInvalid("An article needs a body.", field="body")
    if "kind" in data:
        if data["kind"] not in ArticleKind.values:
            raise ArticleInvalid("Unknown kind.", field="kind")
        fields["kind"] = data["kind"]
    if "audience" in data:
        if data["audience"] not in Audience.values:
            raise ArticleInvalid("Unknown audience.", field="audience")
        fields["audience"] = data["audience"]
    if "slug" in data and data["slug"]:
        slug = slugify(str(data["slug"]))
        if not slug or len(slug) > 200:
            raise ArticleInvalid("A slug is made of letters, digits and hyphens.", field="slug")
        others = Article.objects.filter(slug=slug)
        if article is not None and article.pk:
            others = others.exclude(pk=article.pk)
        if others.exists():
            raise ArticleInvalid("Another article has this slug.", field="slug")
        fields["slug"] = slug
    if "category" in data:
        fields["category"] = _category(data["category"])
    if "tags" in data:
        fields["tags"] = _clean_tags(data["tags"] or [])
    if "review_by" in data:
        value = data["review_by"]
        if value is not None and not isinstance(value, date):
            raise ArticleInvalid("A date, YYYY-MM-DD.", field="review_by")
        fields["review_by"] = value
    if "owner" in data and data["owner"] is not None:
        if not is_kb_staff(data["owner"]):
            raise ArticleInvalid("Articles are owned by agents.", field="owner")
        fields["owner"] = data["owner"]
    communities = list(data["communities"]) if "communities" in data else None
    audience = fields.get("audience", article.audience if article else Audience.PUBLIC)
    if audience == Audience.RESTRICTED:
        has_some = (
            bool(communities)
            if communities is not None
            else bool(article and article.pk and article.communities.exists())
        )
        if not has_some:
            raise ArticleInvalid(
                "A restricted article names the communities that may read it.",
                field="communities",
            )
    elif communities is None and article is not None and article.pk:
        communities = [] if article.communities.exists() else None
    elif communities:
        communities = []  # only restricted articles keep a list of communities
    tickets = list(data["linked_tickets"]) if "linked_tickets" in data else None
    return _Changes(fields=fields, communities=communities, linked_tickets=tickets)


def _save(article: Article, actor: User | None, reason: str, fields: list[str] | None) -> None:
    article._history_user = actor  # type: ignore[attr-defined]
    article._change_reason = reason  # type: ignore[attr-defined]
    if fields is None:
        article.save()
    else:
        article.save(update_fields=fields)
    if fields is None or {"title", "summary", "body", "tags"} & set(fields):
        _reindex(article.pk)


def _reindex(article_id: int) -> None:
    """Have the search embed the article's new text after commit (when search is there)."""
    try:
        from knowledgebase.search.services import index_article_later
    except ImportError:  # pragma: no cover - the search app is not installed
        return
    index_article_later(article_id)


@transaction.atomic
def article_create(*, actor: User, data: Mapping[str, Any]) -> Article:
    """A new draft. `data` holds EDITABLE fields; the author owns it unless an owner is
    given, and its review is due KB_REVIEW_INTERVAL_DAYS from today unless a date is."""
    actor = _require_staff(actor, "write articles")
    for required in ("title", "body"):
        if not str(data.get(required) or "").strip():
            raise ArticleInvalid(f"An article needs a {required}.", field=required)
    changes = _validate(None, data)
    fields = changes.fields
    fields.setdefault("slug", _unique_slug(fields["title"]))
    if fields.get("review_by") is None:
        fields["review_by"] = timezone.localdate() + review_interval()
    fields["owner"] = fields.get("owner") or actor
    article = Article(author=actor, status=ArticleStatus.DRAFT, **fields)
    try:
        with transaction.atomic():
            _save(article, actor, "Created", None)
    except IntegrityError as exc:  # a concurrent article took the slug
        raise ArticleInvalid("Another article has this slug.", field="slug") from exc
    if changes.communities:
        article.communities.set(changes.communities)
    if changes.linked_tickets:
        article.linked_tickets.set(changes.linked_tickets)
    return article


def _locked(article: Article | int) -> Article:
    pk = article.pk if isinstance(article, Article) else article
    locked = Article.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise NotFound("No such article.")
    return locked


@transaction.atomic
def article_update(*, article: Article | int, actor: User, data: Mapping[str, Any]) -> Article:
    """Change an article's content or settings; each save is a version in its history.
    Archived articles are restored from the archive before they change."""
    actor = _require_staff(actor, "edit articles")
    article = _locked(article)
    if article.status == ArticleStatus.ARCHIVED:
        raise ArticleArchived("Restore the article from the archive before editing it.")
    changes = _validate(article, data)
    changed = [name for name, value in changes.fields.items() if getattr(article, name) != value]
    for name in changed:
        setattr(article, name, changes.fields[name])
    if changed:
        article.updated_at = timezone.now()
        _save(article, actor, "Edited", [*changed, "updated_at"])
    if changes.communities is not None:
        article.communities.set(changes.communities)
    if changes.linked_tickets is not None:
        article.linked_tickets.set(changes.linked_tickets)
    return article


@transaction.atomic
def article_transition(
    *, article: Article | int, name: str, actor: User, reason: str = ""
) -> Article:
    """The one way an article's status changes: lock, check the source status and the
    reviewer rule, write status and dates, keep the version, publish the event."""
    actor = _require_staff(actor, "change an article's status")
    transition = TRANSITIONS.get(name)
    if transition is None:
        raise UnknownTransition(f"Unknown transition {name!r}.", field="transition")
    article = _locked(article)
    if article.status not in transition.sources:
        raise InvalidTransition(
            f"Cannot {transition.label.lower()} an article that is "
            f"{article.get_status_display().lower()}.",
            status=article.status,
        )
    reason = reason.strip()
    if transition.requires_reason and not reason:
        raise ReasonRequired("Say what needs to change.", field="reason")
    if (
        transition.is_review
        and getattr(settings, "KB_REVIEWER_MUST_DIFFER", True)
        and actor.pk == article.author_id
    ):
        raise ReviewerMustDiffer("An article is reviewed by someone other than its author.")
    now = timezone.now()
    article.status = transition.target
    fields = ["status", "updated_at"]
    article.updated_at = now
    if name == "submit":
        article.submitted_at = now
        fields.append("submitted_at")
    if transition.is_review:
        article.reviewer = actor
        fields.append("reviewer")
    if name == "approve":
        article.published_at = now
        fields.append("published_at")
        if article.review_by is None or article.review_by <= timezone.localdate():
            article.review_by = timezone.localdate() + review_interval()
            fields.append("review_by")
    label = transition.label + (f": {reason}" if reason else "")
    _save(article, actor, label[:100], fields)
    if name == "submit":
        events.article_submitted(article=article)
    elif name == "approve":
        events.article_published(article=article)
    return article


def article_submit(*, article: Article | int, actor: User) -> Article:
    return article_transition(article=article, name="submit", actor=actor)


def article_approve(*, article: Article | int, actor: User) -> Article:
    """Publish: by a reviewer other than the author (KB_REVIEWER_MUST_DIFFER)."""
    return article_transition(article=article, name="approve", actor=actor)


def article_reject(*, article: Article | int, actor: User, reason: str) -> Article:
    return article_transition(article=article, name="reject", actor=actor, reason=reason)


def article_archive(*, article: Article | int, actor: User) -> Article:
    return article_transition(article=article, name="archive", actor=actor)


@transaction.atomic
def article_mark_reviewed(*, article: Article | int, actor: User) -> Article:
    """The owner (or any agent) checked a published article is still right: its next
    review is due a full interval from today."""
    actor = _require_staff(actor, "review articles")
    article = _locked(article)
    if article.status != ArticleStatus.PUBLISHED:
        raise InvalidTransition("Only published articles are marked as reviewed.")
    article.review_by = timezone.localdate() + review_interval()
    article.updated_at = timezone.now()
    _save(article, actor, "Marked as still current", ["review_by", "updated_at"])
    return article


@transaction.atomic
def article_restore_version(*, article: Article | int, history_id: int, actor: User) -> Article:
    """Bring an earlier version's content back as a new version; the status stays."""
    actor = _require_staff(actor, "restore versions")
    article = _locked(article)
    version = article.history.filter(history_id=history_id).first()
    if version is None:
        raise UnknownVersion("No such version of this article.", field="version")
    if article.status == ArticleStatus.ARCHIVED:
        raise ArticleArchived("Restore the article from the archive before editing it.")
    if version.slug != article.slug and Article.objects.filter(slug=version.slug).exists():
        raise ArticleInvalid("Another article has this version's slug now.", field="slug")
    if version.audience == Audience.RESTRICTED and not article.communities.exists():
        raise ArticleInvalid(
            "That version is restricted: name the communities first.", field="communities"
        )
    for name in RESTORABLE:
        setattr(article, name, getattr(version, name))
    article.updated_at = timezone.now()
    stamp = timezone.localtime(version.history_date).strftime("%Y-%m-%d %H:%M")
    _save(article, actor, f"Restored the version of {stamp}", None)
    return article


# ---------------------------------------------------------------- readers


@transaction.atomic
def feedback_record(
    *,
    article: Article,
    user: User | AnonymousUser | None,
    helpful: bool,
    comment: str = "",
) -> ArticleFeedback:
    """A reader's vote. A signed-in reader has one vote per article and may change it;
    the article's counters move with F() so concurrent votes all count."""
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ArticleInvalid(f"At most {MAX_COMMENT} characters.", field="comment")
    if article.status != ArticleStatus.PUBLISHED:
        raise InvalidTransition("Only published articles take feedback.")
    voter = user if user is not None and user.is_authenticated else None
    counters = Article.objects.filter(pk=article.pk)
    if voter is None:
        counters.update(**_counter(helpful, +1))
        return ArticleFeedback.objects.create(article=article, helpful=helpful, comment=comment)
    previous = (
        ArticleFeedback.objects.select_for_update().filter(article=article, user=voter).first()
    )
    if previous is None:
        counters.update(**_counter(helpful, +1))
        return ArticleFeedback.objects.create(
            article=article, user=voter, helpful=helpful, comment=comment
        )
    if previous.helpful != helpful:
        counters.update(**_counter(previous.helpful, -1), **_counter(helpful, +1))
    previous.helpful = helpful
    previous.comment = comment or previous.comment
    previous.created_at = timezone.now()
    previous.save(update_fields=["helpful", "comment", "created_at"])
    return previous


def _counter(helpful: bool, step: int) -> dict[str, Any]:
    name = "helpful_yes" if helpful else "helpful_no"
    return {name: F(name) + step}


def article_viewed(*, article_id: int) -> None:
    """One more view: a single UPDATE with F(), no read first, no version. The pages count
    a reader once per session (web.*.views.kb), so reloads do not write."""
    Article.objects.filter(pk=article_id).update(view_count=F("view_count") + 1)


# ---------------------------------------------------------------- from a ticket


def _draft_from_ticket(ticket: Ticket) -> dict[str, Any]:
    from tickets.models import Message

    replies = [
        m
        for m in ticket.messages.select_related("author").filter(kind=Message.Kind.PUBLIC)
        if m.author.is_staff
    ]
    answer = "\n\n".join(m.body.strip() for m in replies) or "_Write the answer here._"
    question = ticket.description.strip() or ticket.subject
    first_line = question.splitlines()[0] if question else ""
    kind = ArticleKind.TROUBLESHOOTING if ticket.kind == "incident" else ArticleKind.FAQ
    return {
        "title": ticket.subject[:200],
        "summary": first_line[:300],
        "body": f"## Question\n\n{question}\n\n## Answer\n\n{answer}\n",
        "kind": kind,
        "audience": Audience.STAFF,
        "tags": list(ticket.tags),
        "linked_tickets": [ticket],
    }


@transaction.atomic
def article_create_from_ticket(*, ticket: Ticket, actor: User, submit: bool = True) -> Article:
    """A draft written from a ticket's public conversation (the question, then the agents'
    public replies; never internal notes), linked to the ticket and sent for review. It is
    staff-only until the reviewer chooses its audience: a community's words are not
    published by default."""
    actor = _require_staff(actor, "write articles")
    article = article_create(actor=actor, data=_draft_from_ticket(ticket))
    if submit:
        article = article_submit(article=article, actor=actor)
    return article


# ---------------------------------------------------------------- freshness


def period_start(review_by: date, today: date) -> date:
    """The start of the reminder period `today` falls in, counted from the review-by date
    in steps of KB_REVIEW_REMINDER_PERIOD_DAYS: one reminder per article and period."""
    every = int(getattr(settings, "KB_REVIEW_REMINDER_PERIOD_DAYS", 7))
    elapsed = (today - review_by).days
    return review_by + timedelta(days=(elapsed // every) * every)


def review_reminders_send(*, today: date | None = None, batch: int = 500) -> int:
    """Remind the owners of published articles past their review-by date, once per article
    and period: the reminder row (unique per article and period) and its event are written
    together, so a second run, or two at once, remind nobody twice. Returns how many."""
    today = today or timezone.localdate()
    overdue = (
        Article.objects.filter(status=ArticleStatus.PUBLISHED, review_by__lt=today)
        .order_by("review_by", "pk")
        .values_list("pk", "review_by", "owner_id")[:batch]
    )
    sent = 0
    for article_id, review_by, owner_id in overdue:
        assert review_by is not None  # filtered above
        start = period_start(review_by, today)
        with transaction.atomic():
            reminder, created = ReviewReminder.objects.get_or_create(
                article_id=article_id,
                period_start=start,
                defaults={"owner_id": owner_id, "sent_at": timezone.now()},
            )
            if created:
                events.article_review_due(reminder=reminder)
                sent += 1
    return sent
