"""The sweeper hands every due page to the workers, once per lease; the engine runs each
step once however many sweepers and workers take the page at the same time."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
import time_machine
from django.db import connection

from incidents.notify.models import Notification
from incidents.paging.models import Page, PageEvent, Via
from incidents.paging.services.engine import page_advance
from incidents.paging.services.pages import page_acknowledge, trigger_page
from incidents.paging.services.sweep import paging_sweep
from tests.paging.conftest import T0, committed, minutes

pytestmark = pytest.mark.django_db


def open_pages(count: int) -> list[Page]:
    """`count` critical pages opened at T0: each paged the primary, the backup is due at
    T0 + 5 minutes."""
    return [
        trigger_page(
            cause="critical_ticket",
            dedup_key=f"k{n}",
            title=f"Page {n}",
            details="",
            severity="critical",
            via=Via.API,
        )  # fmt: skip
        for n in range(count)
    ]


def swept(dispatched) -> list[int]:
    return [page_id for ids in dispatched.swept for page_id in ids]


def sweep(**kwargs):
    with committed():
        return paging_sweep(**kwargs)


def test_the_sweeper_hands_over_due_pages_once_per_lease(oncall, dispatched, settings):
    settings.PAGING_DISPATCH_LEASE_SECONDS = 30
    with time_machine.travel(T0, tick=False) as traveller:
        pages = open_pages(3)
        page_acknowledge(page=pages[2], actor=oncall.alice, via=Via.API)
        assert sweep().dispatched == 0  # nothing due yet

        traveller.shift(minutes(5))
        result = sweep()
        assert (result.dispatched, result.messages) == (2, 1)
        assert sorted(swept(dispatched)) == [pages[0].pk, pages[1].pk]

        traveller.shift(minutes(0.25))
        assert sweep().dispatched == 0  # handed over, the lease runs

        # A worker ran the first page's step; the second page's worker died with it.
        page_advance(page_id=pages[0].pk)
        traveller.shift(minutes(0.5))  # the second's lease has run out
        assert sweep().dispatched == 1
        assert swept(dispatched)[-1] == pages[1].pk


def test_the_sweeper_hands_over_due_reminders(oncall, dispatched):
    oncall.policy.reminder_minutes = 20
    oncall.policy.save()
    with time_machine.travel(T0, tick=False) as traveller:
        (page,) = open_pages(1)
        page_acknowledge(page=page, actor=oncall.alice, via=Via.API)
        traveller.shift(minutes(20))
        assert sweep().dispatched == 1
    assert swept(dispatched) == [page.pk]


def test_the_sweeps_queries_do_not_grow_with_the_pages_due(oncall, django_assert_num_queries):
    with time_machine.travel(T0, tick=False) as traveller:
        open_pages(3)
        traveller.shift(minutes(5))
        # Per kind (escalations, reminders): a savepoint, the plan setting, the claim, and
        # the release; each a batch that stops short of the batch size.
        with django_assert_num_queries(8):
            assert paging_sweep(batch_size=10).dispatched == 3
        open_pages_more = [
            trigger_page(
                cause="critical_ticket",
                dedup_key=f"more{n}",
                title="More",
                details="",
                severity="critical",
                via=Via.API,
            )  # fmt: skip
            for n in range(12)
        ]
        traveller.shift(minutes(5))
        assert len(open_pages_more) == 12
        with django_assert_num_queries(8):
            # 15 due now (the lease of the first 3 ran out long ago): still one batch each.
            assert paging_sweep(batch_size=20).dispatched == 15


def run_together(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """`count` threads, each with its own database connection, start `work` at once."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            work(n)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_and_two_workers_at_once_run_each_step_exactly_once(oncall, dispatched):
    pages = 40
    with time_machine.travel(T0, tick=False) as traveller:
        opened = open_pages(pages)
        traveller.shift(minutes(5))

        results = []
        errors = run_together(2, lambda n: results.append(paging_sweep(batch_size=7)))
        assert errors == []
        handed = swept(dispatched)
        # Disjoint claims (SKIP LOCKED): every due page handed over once between them.
        assert sorted(handed) == sorted(p.pk for p in opened)
        assert sum(r.dispatched for r in results) == pages

        # Both workers get every page (a message sent twice, a sweep and a scheduled task).
        ids = [p.pk for p in opened]

        def advance_all(n: int) -> None:
            for page_id in ids if n == 0 else ids[::-1]:
                page_advance(page_id=page_id)

        errors = run_together(2, advance_all)
        assert errors == []

    backup = Counter(
        Notification.objects.filter(recipient=oncall.carol).values_list("source_id", flat=True)
    )
    assert backup == dict.fromkeys(ids, 1)
    assert Notification.objects.filter(recipient=oncall.alice).count() == pages
    per_page = Counter(PageEvent.objects.filter(kind="notified").values_list("page_id", flat=True))
    assert per_page == dict.fromkeys(ids, 2)
    assert set(Page.objects.values_list("step_index", "repeat")) == {(4, 0)}
    assert set(Page.objects.values_list("next_escalation_at", flat=True)) == {T0 + minutes(10)}


def test_beat_runs_the_sweeper_every_few_seconds_on_the_paging_queue(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["paging-sweep"]
    assert (entry["task"], entry["schedule"]) == ("paging.sweep", 5.0)
    assert settings.CELERY_TASK_ROUTES["paging.sweep"] == {"queue": "paging"}
    assert settings.CELERY_TASK_ROUTES["paging.advance_pages"] == {"queue": "paging"}
    assert "paging" in settings.WORKER_QUEUES
    from incidents.paging.tasks import advance_pages, sweep

    assert (sweep.name, advance_pages.name) == ("paging.sweep", "paging.advance_pages")


def test_the_sweep_task_hands_over_due_pages(oncall, dispatched):
    from incidents.paging.tasks import sweep as sweep_task

    with time_machine.travel(T0, tick=False) as traveller:
        (page,) = open_pages(1)
        traveller.shift(minutes(5))
        with committed():
            sweep_task.run()
    assert swept(dispatched) == [page.pk]
