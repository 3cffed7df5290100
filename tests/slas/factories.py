from datetime import time

import factory

from slas.models import BusinessCalendar, SLAPolicy, WorkingInterval
from slas.services.calendars import IntervalSpec, business_calendar_save


class BusinessCalendarFactory(factory.django.DjangoModelFactory[BusinessCalendar]):
    """Monday to Friday, 09:00-17:00 (pass `hours=[...]` of IntervalSpec for others)."""

    class Meta:
        model = BusinessCalendar
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Calendar {n}")
    time_zone = "Europe/Berlin"
    hours = factory.PostGeneration(
        lambda calendar, create, extracted, **kw: _hours(calendar, extracted)
    )


def _hours(calendar: BusinessCalendar, specs) -> None:
    for spec in specs if specs is not None else NINE_TO_FIVE:
        WorkingInterval.objects.create(
            calendar=calendar, weekday=spec.weekday, start=spec.start, end=spec.end,
            ends_next_day=spec.ends_next_day,
        )  # fmt: skip


NINE_TO_FIVE = [IntervalSpec(d, time(9), time(17)) for d in range(5)]
FULL_WEEKDAYS = [IntervalSpec(d, time(0), time(0), True) for d in range(5)]


class SLAPolicyFactory(factory.django.DjangoModelFactory[SLAPolicy]):
    """Seed 001's P3 targets: first response 4 h, resolution 24 h; next update 8 h."""

    class Meta:
        model = SLAPolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    position = factory.Sequence(lambda n: 100 + n)
    first_response_minutes = 4 * 60
    next_update_minutes = 8 * 60
    resolution_minutes = 24 * 60
    warn_percent = 75


def calendar_create(**kwargs):
    """A calendar through the service, as the admin makes one."""
    kwargs.setdefault("name", "Calendar")
    kwargs.setdefault("time_zone", "Europe/Berlin")
    kwargs.setdefault("intervals", NINE_TO_FIVE)
    return business_calendar_save(**kwargs)
