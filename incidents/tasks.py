"""Incident tasks: thin, each calls one service (incidents.services)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction


@shared_task(name="incidents.fan_out_update", acks_late=True)
def fan_out_update(update_id: int) -> int:
    from incidents.services.updates import update_fan_out

    batches = update_fan_out(update_id=update_id)
    for batch in batches:
        send_replies.delay(update_id, batch)
    return len(batches)


# A batch stops well inside the task's soft time limit and hands on what is left.
REPLY_BATCH_SECONDS = 30.0


@shared_task(name="incidents.send_replies", acks_late=True)
def send_replies(update_id: int, reply_ids: list[int]) -> int:
    from incidents.services.updates import replies_left, update_replies_send

    sent = update_replies_send(
        update_id=update_id, reply_ids=reply_ids, time_budget=REPLY_BATCH_SECONDS
    )
    left = replies_left(update_id=update_id, reply_ids=reply_ids)
    if left and sent:
        send_replies.delay(update_id, left)
    return sent


@shared_task(name="incidents.send_reminders", acks_late=True)
def send_reminders(reminder_ids: list[int]) -> int:
    from incidents.services.reminders import reminder_send

    return sum(reminder_send(reminder_id=rid) for rid in reminder_ids)


@shared_task(name="incidents.sweep")
def sweep() -> int:
    """Make due reminders and hand them out; hand out fan-outs a lost task left unfinished."""
    from incidents.services.reminders import reminders_sweep
    from incidents.services.updates import stalled_fan_outs

    ids = reminders_sweep()
    for start in range(0, len(ids), 200):
        chunk = ids[start : start + 200]
        transaction.on_commit(lambda chunk=chunk: send_reminders.delay(chunk))  # type: ignore[misc]
    for update_id in stalled_fan_outs():
        fan_out_update.delay(update_id)
    return len(ids)
