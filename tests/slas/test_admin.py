"""The SLA admin: calendars with hours and holidays, holiday import, policies, the grid and
the preview. Bad input is a form error and nothing is saved."""

from datetime import time
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from slas.models import BusinessCalendar, Holiday, SLAPolicy, SLATarget, WorkingInterval
from slas.services import calendars as calendar_services
from slas.services import policies as policy_services
from tests.core.factories import UserFactory
from tests.slas.conftest import sync
from tests.slas.factories import calendar_create
from tests.slas.test_calendars import ICS
from tickets.services.lifecycle import ticket_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(db):
    return UserFactory.create(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def calendar_form(*intervals, holidays=(), **fields):
    data = {
        "name": "Office", "time_zone": "Europe/Berlin", "description": "",
        "intervals-TOTAL_FORMS": len(intervals), "intervals-INITIAL_FORMS": 0,
        "intervals-MIN_NUM_FORMS": 0, "intervals-MAX_NUM_FORMS": 1000,
        "holidays-TOTAL_FORMS": len(holidays), "holidays-INITIAL_FORMS": 0,
        "holidays-MIN_NUM_FORMS": 0, "holidays-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for n, (weekday, start, end, *next_day) in enumerate(intervals):
        data |= {f"intervals-{n}-weekday": weekday, f"intervals-{n}-start": start,
                 f"intervals-{n}-end": end}  # fmt: skip
        if next_day:
            data[f"intervals-{n}-ends_next_day"] = "on"
    for n, (day, name) in enumerate(holidays):
        data |= {f"holidays-{n}-day": day, f"holidays-{n}-name": name,
                 f"holidays-{n}-active": "on"}  # fmt: skip
    return data | fields


@pytest.mark.parametrize(
    "path",
    [
        "/admin/slas/businesscalendar/", "/admin/slas/businesscalendar/add/",
        "/admin/slas/slapolicy/", "/admin/slas/slapolicy/add/", "/admin/slas/slapolicy/grid/",
        "/admin/slas/slapolicy/preview/", "/admin/slas/slatarget/", "/admin/slas/ticketsla/",
        "/admin/slas/plancalendar/add/", "/admin/slas/communitycalendar/add/",
    ],
)  # fmt: skip
def test_the_admin_pages_render(admin_client, path):
    assert admin_client.get(path).status_code == 200


def test_a_calendar_is_saved_with_its_hours_and_holidays_through_the_service(
    admin_client, admin_user
):
    form = calendar_form(
        (0, "09:00", "17:00"), (1, "00:00", "00:00", "next day"),
        holidays=[("2024-12-25", "Christmas")],
    )  # fmt: skip
    with mock.patch("slas.admin.business_calendar_save",
                    wraps=calendar_services.business_calendar_save) as save:  # fmt: skip
        response = admin_client.post("/admin/slas/businesscalendar/add/", form)

    assert response.status_code == 302, response.context["errors"]
    save.assert_called_once()
    calendar = BusinessCalendar.objects.get()
    assert list(calendar.intervals.values_list("weekday", "start", "end", "ends_next_day")) == [
        (0, time(9), time(17), False), (1, time(0), time(0), True),
    ]  # fmt: skip
    assert list(calendar.holidays.values_list("name", flat=True)) == ["Christmas"]
    assert calendar.history.get().history_user == admin_user


@pytest.mark.parametrize(
    ("intervals", "fields", "message"),
    [
        ([(0, "09:00", "12:00"), (0, "11:00", "13:00")], {},
         "Monday 09:00-12:00 and Monday 11:00-13:00 overlap."),
        ([(0, "17:00", "09:00")], {}, "The end comes before the start."),
        ([(0, "09:00", "10:00", "next day")], {}, "An interval lasts a day at most."),
        ([], {}, "A calendar needs working hours, or to run around the clock."),
        ([(0, "09:00", "17:00")], {"time_zone": "Europe/Atlantis"},
         "Europe/Atlantis is not an IANA time zone such as Europe/Paris."),
    ],
    ids=["overlap", "end before start", "longer than a day", "no working time", "unknown zone"],
)  # fmt: skip
def test_a_bad_calendar_is_a_form_error_and_nothing_is_saved(
    admin_client, intervals, fields, message
):
    response = admin_client.post(
        "/admin/slas/businesscalendar/add/", calendar_form(*intervals, **fields)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not BusinessCalendar.objects.exists()
    assert not WorkingInterval.objects.exists()


def test_an_around_the_clock_calendar_needs_no_hours(admin_client):
    response = admin_client.post(
        "/admin/slas/businesscalendar/add/", calendar_form(around_the_clock="on", name="24/7")
    )
    assert response.status_code == 302
    assert BusinessCalendar.objects.get().around_the_clock is True


def test_holidays_are_imported_from_an_ics_file(admin_client):
    calendar = calendar_create()
    url = f"/admin/slas/businesscalendar/{calendar.pk}/import-holidays/"
    assert admin_client.get(url).status_code == 200
    assert (
        url
        in admin_client.get(f"/admin/slas/businesscalendar/{calendar.pk}/change/").content.decode()
    )

    response = admin_client.post(url, {"file": SimpleUploadedFile("holidays.ics", ICS)})

    assert response.status_code == 302
    assert sorted(Holiday.objects.values_list("name", flat=True)) == [
        "Christmas", "Christmas", "Whit Monday",
    ]  # fmt: skip


def test_a_malformed_holiday_file_is_a_form_error_and_nothing_is_saved(admin_client):
    calendar = calendar_create()
    response = admin_client.post(
        f"/admin/slas/businesscalendar/{calendar.pk}/import-holidays/",
        {"file": SimpleUploadedFile("holidays.ics", b"this is no calendar")},
    )
    assert response.status_code == 200
    assert "This is not a valid iCalendar file" in response.content.decode()
    assert not Holiday.objects.exists()


def policy_form(**fields):
    data = {
        "name": "Premium P1", "position": 1, "active": "on", "severity": "critical",
        "first_response_minutes": 15, "resolution_minutes": 240, "warn_percent": 75,
        "pause_when_pending": "on",
    }  # fmt: skip
    return {k: v for k, v in (data | fields).items() if v is not None}


def test_a_policy_is_saved_through_the_service(admin_client, admin_user):
    with mock.patch("slas.admin.sla_policy_create",
                    wraps=policy_services.sla_policy_create) as create:  # fmt: skip
        response = admin_client.post("/admin/slas/slapolicy/add/", policy_form())
    assert response.status_code == 302
    create.assert_called_once()
    policy = SLAPolicy.objects.get()
    assert (policy.first_response_minutes, policy.history.get().history_user) == (15, admin_user)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"first_response_minutes": 0}, "Ensure this value is greater than or equal to 1."),
        ({"resolution_minutes": -60}, "Ensure this value is greater than or equal to 0."),
        ({"warn_percent": 100}, "Ensure this value is less than or equal to 99."),
        ({"warn_percent": 0}, "Ensure this value is greater than or equal to 1."),
        ({"warn_minutes_before": 10}, "Warn at a share of the target or minutes before"),
        ({"first_response_minutes": None, "resolution_minutes": None},
         "A policy needs at least one target."),
    ],
    ids=["zero", "negative", "warning at 100 %", "warning at 0 %", "two warnings", "no target"],
)  # fmt: skip
def test_a_bad_policy_is_a_form_error_and_nothing_is_saved(admin_client, fields, message):
    response = admin_client.post("/admin/slas/slapolicy/add/", policy_form(**fields))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SLAPolicy.objects.exists()


def test_switching_a_policy_off_in_the_admin_cancels_its_clocks(admin_client, desk):
    ticket = ticket_open(community=desk.community, requester=desk.representative, subject="S",
                         description="D", opened_by=desk.representative)  # fmt: skip
    sync(ticket)
    response = admin_client.post(
        f"/admin/slas/slapolicy/{desk.policy.pk}/change/",
        policy_form(name="Everything", severity="", active=None),
    )
    assert response.status_code == 302
    assert set(SLATarget.objects.values_list("state", flat=True)) == {"cancelled"}


def test_the_grid_shows_the_policy_of_each_plan_and_severity(admin_client, desk):
    body = admin_client.get("/admin/slas/slapolicy/grid/").content.decode()
    assert f"<th>{desk.plan}</th>" in body
    assert body.count(">Everything</a>") == 4
    assert "First response: 4 h" in body


def test_the_preview_shows_a_hypothetical_tickets_due_times(admin_client, desk):
    response = admin_client.get(
        "/admin/slas/slapolicy/preview/",
        {"community": desk.community.pk, "severity": "medium", "kind": "question",
         "opened_at": "2024-06-07 16:00"},  # a Friday, in the viewer's time zone (UTC)
    )  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200
    assert "“Everything” is the first matching policy" in body
    assert "Berlin office (Europe/Berlin)" in body
    # 16:00 UTC is 18:00 in Berlin, after hours: 4 business hours run Monday 09:00-13:00.
    assert "Mon 2024-06-10 13:00 CEST" in body
    assert "2024-06-10 11:00" in body


def test_the_recompute_action_matches_the_policy_again(admin_client, desk):
    ticket = ticket_open(community=desk.community, requester=desk.representative, subject="S",
                         description="D", opened_by=desk.representative)  # fmt: skip
    sync(ticket)
    SLAPolicy.objects.filter(pk=desk.policy.pk).update(first_response_minutes=30)
    response = admin_client.post(
        "/admin/slas/ticketsla/",
        {"action": "recompute", "_selected_action": [ticket.pk]},
    )
    assert response.status_code == 302
    assert SLATarget.objects.get(metric="first_response").target_minutes == 30
