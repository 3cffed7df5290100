"""Knowledge-base categories, articles (with versions), votes and review reminders."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from core.models import values_check
from knowledgebase.rendering import render_markdown
from knowledgebase.states import ArticleStatus


class ArticleKind(models.TextChoices):
    FAQ = "faq", "FAQ"
    HOW_TO = "how_to", "How-to"
    TROUBLESHOOTING = "troubleshooting", "Troubleshooting"
    KNOWN_ISSUE = "known_issue", "Known issue"


class Audience(models.TextChoices):
    PUBLIC = "public", "Public"
    STAFF = "staff", "Staff only"
    RESTRICTED = "restricted", "Restricted to communities"


class Category(models.Model):
    """A shelf of the knowledge base; categories form a tree, ordered by `position`."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Order among siblings.")
    history = HistoricalRecords()

    class Meta:
        ordering = ("position", "name")
        verbose_name_plural = "categories"
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("pk")), name="kb_category_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    summary = models.TextField(blank=True)
    body = models.TextField(help_text="Markdown.")
    # The body rendered and sanitised (knowledgebase.rendering), re-rendered on every save.
    body_html = models.TextField(blank=True, editable=False)
    kind = models.CharField(max_length=20, choices=ArticleKind.choices, default=ArticleKind.FAQ)
    audience = models.CharField(max_length=20, choices=Audience.choices, default=Audience.PUBLIC)
    communities = models.ManyToManyField(
        "communities.Community",
        blank=True,
        related_name="kb_articles",
        help_text="Who may read a restricted article.",
    )
    status = models.CharField(
        max_length=20, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="articles"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="kb_articles_written"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="kb_articles_owned",
        help_text="Keeps the article current and is reminded when its review is due.",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="kb_articles_reviewed",
    )
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    review_by = models.DateField(null=True, blank=True)
    linked_tickets = models.ManyToManyField(
        "tickets.Ticket", blank=True, related_name="kb_articles"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)
    helpful_yes = models.PositiveIntegerField(default=0)
    helpful_no = models.PositiveIntegerField(default=0)
    history = HistoricalRecords(
        excluded_fields=["body_html", "view_count", "helpful_yes", "helpful_no"]
    )

    class Meta:
        db_table = "knowledgebase_article"
        ordering = ("title",)
        constraints: ClassVar = [
            values_check("status", ArticleStatus.values, "kb_article_status_valid"),
            values_check("kind", ArticleKind.values, "kb_article_kind_valid"),
            values_check("audience", Audience.values, "kb_article_audience_valid"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "audience"]),
            models.Index(fields=["category", "status"]),
            models.Index(
                fields=["review_by"],
                condition=models.Q(status="published", review_by__isnull=False),
                name="kb_article_review_due_idx",
            ),
            GinIndex(fields=["tags"], name="kb_article_tags_gin"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.body_html = render_markdown(self.body)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "body" in update_fields:
            kwargs["update_fields"] = {*update_fields, "body_html"}
        super().save(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.status == ArticleStatus.PUBLISHED


class ArticleFeedback(models.Model):
    """One reader's "was this helpful?": a signed-in reader has one vote per article,
    which they may change; anonymous votes are each their own row."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="kb_feedback",
    )
    helpful = models.BooleanField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "article feedback"
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["article", "user"],
                condition=models.Q(user__isnull=False),
                name="kb_feedback_once_per_user",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["article", "created_at"])]

    def __str__(self) -> str:
        return f"{'Helpful' if self.helpful else 'Not helpful'}: {self.article}"


class ReviewReminder(models.Model):
    """The owner of an overdue article was reminded for this period: at most one row, and so
    one reminder, per article and period (KB_REVIEW_REMINDER_PERIOD_DAYS)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="reminders")
    period_start = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kb_reminders"
    )
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-sent_at",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["article", "period_start"], name="kb_reminder_once_per_period"
            ),
        ]

    def __str__(self) -> str:
        return f"Review reminder for {self.article} ({self.period_start})"
