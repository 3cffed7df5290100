"""The satisfaction survey: asked once per resolution, answered once, by a signed link."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.errors import Forbidden
from tickets import events
from tickets.errors import SurveyAlreadyAnswered, SurveyLinkInvalid
from tickets.models import SatisfactionRating, Ticket
from tickets.states import TicketStatus

if TYPE_CHECKING:
    from core.models import User

LINK_VALID_FOR = timedelta(days=14)
_SALT = "tickets.satisfaction"


def survey_open(*, ticket: Ticket) -> SatisfactionRating | None:
    """Ask the requester of a resolved ticket for a rating; None when there is nothing to
    ask (the ticket is no longer resolved, or a survey for it is still open)."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.status != TicketStatus.RESOLVED:
            return None
        rating, created = SatisfactionRating.objects.get_or_create(
            ticket=ticket, answered_at__isnull=True, defaults={"requester_id": ticket.requester_id}
        )
        return rating if created else None


def survey_token(rating: SatisfactionRating) -> str:
    return signing.TimestampSigner(salt=_SALT).sign_object({"rating": rating.pk})


def survey_from_token(token: str) -> SatisfactionRating:
    """The survey a link names, if the link is genuine and less than 14 days old."""
    try:
        payload = signing.TimestampSigner(salt=_SALT).unsign_object(token, max_age=LINK_VALID_FOR)
    except signing.BadSignature as exc:  # also SignatureExpired
        raise SurveyLinkInvalid("This survey link is not valid, or has expired.") from exc
    rating = (
        SatisfactionRating.objects.select_related("ticket", "requester")
        .filter(pk=payload.get("rating"))
        .first()
    )
    if rating is None:
        raise SurveyLinkInvalid("This survey link is not valid, or has expired.")
    return rating


def survey_answer(
    *, rating: SatisfactionRating, score: str, comment: str = "", by: User | None = None
) -> SatisfactionRating:
    """Record the answer, once. `by` is the signed-in user answering in the portal (who must
    be the requester); None when the answer comes through the signed link."""
    if score not in SatisfactionRating.Score.values:
        raise ValidationError(
            {"score": ValidationError("Choose good or bad.", code="invalid_choice")}
        )
    if by is not None and by.pk != rating.requester_id:
        raise Forbidden("Only the requester rates the answer.")
    with transaction.atomic():
        answered = SatisfactionRating.objects.filter(pk=rating.pk, answered_at__isnull=True).update(
            score=score, comment=comment.strip()[:5000], answered_at=timezone.now()
        )
        if not answered:
            raise SurveyAlreadyAnswered("This survey has been answered already.")
        rating.refresh_from_db()
        events.ticket_rated(rating=rating)
    return rating
