"""Thin tasks: each calls one search service. Names, queues and the schedule are in settings
(the `# ---- knowledge-base search` section)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    name="kbsearch.embed_article",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def embed_article(article_id: int) -> None:
    """Embed one saved article (enqueued after the save commits)."""
    from knowledgebase.search.services import index_article

    index_article(article_id)


@shared_task(
    name="kbsearch.embed_pending",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def embed_pending() -> None:
    """Embed articles whose embedding task was lost (Celery beat), at most 500 per run."""
    from knowledgebase.search.services import embed_pending as run

    run(limit=500)


@shared_task(
    name="kbsearch.refresh_lexemes",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def refresh_lexemes() -> None:
    """Recount the index's lexemes (Celery beat)."""
    from knowledgebase.search.services import refresh_lexemes as run

    run()
