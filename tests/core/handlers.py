"""Event handlers for the outbox tests (resolved by dotted path, like real ones)."""

from core.models import Event, User
from core.outbox import Reaction

calls: list[int] = []


def record(*, event: Event) -> None:
    calls.append(event.pk)
    User.objects.create_user(f"handled-{event.pk}@example.org")


def fail(*, event: Event) -> None:
    User.objects.create_user(f"half-done-{event.pk}@example.org")
    raise RuntimeError("the mail server said no")


def measure(*, event: Event) -> None:
    calls.append(event.pk)


batches: list[list[int]] = []


def record_many(*, events: list[Event]) -> None:
    batches.append([e.pk for e in events])
    for event in events:
        User.objects.create_user(f"handled-{event.pk}@example.org")


def fail_many(*, events: list[Event]) -> None:
    User.objects.create_user(f"half-done-batch-{events[0].pk}@example.org")
    raise RuntimeError("the batch went wrong")


def only_big(payload: dict[str, int]) -> bool:
    return payload.get("size", 0) > 10


REACTIONS = (
    Reaction("thing.happened", f"{__name__}.record", "slas"),
    Reaction("thing.broke", f"{__name__}.fail"),
    Reaction("thing.grew", f"{__name__}.record", "slas"),
    Reaction("thing.grew", f"{__name__}.measure", "routing", when=f"{__name__}.only_big"),
    Reaction("thing.queued", f"{__name__}.record", "routing", batch=f"{__name__}.record_many",
             batch_size=3),
    Reaction("thing.piled", f"{__name__}.measure", "slas", batch=f"{__name__}.fail_many"),
)  # fmt: skip
