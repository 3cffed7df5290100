"""The desk's on-call pages: on call now (with the backup), the calendar, cover my shift,
handoff notes; errors beside their fields, messages for every action, and nothing for
anyone who is not an agent."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from incidents.oncall.models import HandoffNote, Override
from incidents.oncall.services import handoff_note_write, schedule_update
from tests.communities.factories import MembershipFactory
from tests.core.factories import AgentFactory
from tests.oncall.conftest import berlin
from tests.oncall.factories import ScheduleFactory, make_layer
from tests.web.desk.conftest import field_errors, found

pytestmark = pytest.mark.django_db

NOW = "2026-01-13 06:00"  # Tuesday; Ben is on call, hands over to Cat at 10:00


@pytest.fixture
def at_now(time_machine):
    time_machine.move_to(berlin(NOW), tick=False)


def signed_in(client, user):
    user.time_zone = "Europe/Berlin"
    user.save(update_fields=["time_zone"])
    client.force_login(user)
    return client


def notices(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_on_call_now_shows_who_until_when_the_next_and_the_backup(client, team, at_now):
    backup = ScheduleFactory.create(name="Backup")
    make_layer(backup, [team.ann, team.cat], starts_at=berlin("2026-01-05 09:00"))
    schedule_update(schedule=backup, data={"backup_of": team.schedule})
    response = signed_in(client, team.ann).get("/desk/oncall/")
    assert response.status_code == 200
    html = text(response)
    row = found(rf'<tr data-schedule="{team.schedule.pk}">(.*?)</tr>', html).group(1)
    assert '<td class="who">Ben B</td>' in row
    assert '<td class="until">Tue 13 Jan 10:00</td>' in row
    assert '<td class="next">Cat C from Tue 13 Jan 10:00</td>' in row
    assert "<div>Backup: Cat C until Mon 19 Jan 09:00</div>" in row
    assert f'data-schedule="{backup.pk}"' not in html  # shown as the backup, not on its own
    assert "Ann A" not in row


def test_the_outgoing_person_is_prompted_for_a_note_and_writes_it(client, team, at_now):
    desk = signed_in(client, team.ben)
    html = text(desk.get("/desk/oncall/"))
    link = re.search(
        r'Your shift on <strong>Primary</strong> ends at Tue 13 Jan 10:00; Cat C takes over\. <a href="([^"]+)">Write the handoff note</a>',
        html,
    )
    assert link is not None
    url = link.group(1).replace("&amp;", "&")
    assert url == f"/desk/oncall/schedules/{team.schedule.pk}/handoff/?at=2026-01-13T09%3A00%3A00Z"
    form = desk.get(url)
    assert form.status_code == 200
    assert "Ben B hands over to Cat C" in text(form)
    saved = desk.post(
        url, {"active_incidents": "None open.", "follow_ups": "Renew the TLS certificate."}
    )
    assert saved.status_code == 302
    assert notices(saved) == ["Handoff note on Primary saved for Cat C."]
    note = HandoffNote.objects.get()
    assert (note.outgoing, note.incoming, note.handoff_at) == (
        team.ben,
        team.cat,
        berlin("2026-01-13 10:00"),
    )
    assert "Write the handoff note" not in text(desk.get("/desk/oncall/"))


def test_an_empty_note_shows_the_error_beside_each_field(client, team, at_now):
    desk = signed_in(client, team.ben)
    url = f"/desk/oncall/schedules/{team.schedule.pk}/handoff/?at=2026-01-13T09:00:00Z"
    response = desk.post(url, {"active_incidents": " "})
    assert response.status_code == 400
    html = response.content.decode()
    for field in ("active_incidents", "pending_issues", "ongoing_situations", "follow_ups"):
        assert field_errors(html, f"handoff_{field}") == ["Write at least one part of the note."]
    assert not HandoffNote.objects.exists()


def test_someone_else_cannot_write_the_note(client, team, at_now):
    url = f"/desk/oncall/schedules/{team.schedule.pk}/handoff/?at=2026-01-13T09:00:00Z"
    response = signed_in(client, team.cat).post(url, {"follow_ups": "x"})
    assert response.status_code == 400
    assert "Only Ben B, who hands over, writes this note." in response.content.decode()
    assert not HandoffNote.objects.exists()


def test_the_incoming_person_sees_the_latest_note_and_acknowledges_it(client, team, at_now):
    handoff_note_write(
        schedule=team.schedule, handoff_at=berlin("2026-01-13 10:00"), author=team.ben,
        follow_ups="Renew the TLS certificate.",
    )  # fmt: skip
    desk = signed_in(client, team.cat)
    html = text(desk.get("/desk/oncall/"))
    assert "Primary: from Ben B to Cat C, Tue 13 Jan 10:00" in html
    assert "Renew the TLS certificate." in html
    note = HandoffNote.objects.get()
    done = desk.post(f"/desk/oncall/handoffs/{note.pk}/acknowledge/")
    assert done.status_code == 302
    assert notices(done) == ["You have read Ben B's handoff note on Primary."]
    note.refresh_from_db()
    assert note.acknowledged_at == berlin(NOW)
    refused = signed_in(Client(), team.ann).post(f"/desk/oncall/handoffs/{note.pk}/acknowledge/")
    assert notices(refused) == ["Only the person taking over acknowledges this note."]


def test_cover_my_shift_creates_an_override_for_the_colleague(client, team, at_now):
    desk = signed_in(client, team.ben)
    html = text(desk.get("/desk/oncall/"))
    assert "Primary: Tue 13 Jan 06:00 – Tue 13 Jan 10:00" in html
    prefilled = desk.get(
        reverse("desk:oncall_cover")
        + f"?schedule={team.schedule.pk}&start=2026-01-13T16:00:00Z&end=2026-01-19T08:00:00Z"
    )
    assert 'value="2026-01-13T17:00"' in prefilled.content.decode()
    response = desk.post(
        "/desk/oncall/cover/",
        {"schedule": team.schedule.pk, "colleague": team.ann.pk, "start": "2026-01-13T18:00",
         "end": "2026-01-13T22:00", "reason": "Dentist"},
    )  # fmt: skip
    assert response.status_code == 302
    assert notices(response) == [
        "Ann A covers you on Primary from Tue 13 Jan 18:00 until Tue 13 Jan 22:00."
    ]
    override = Override.objects.get(reason="Dentist")
    assert (override.user, override.start, override.end, override.created_by) == (
        team.ann, berlin("2026-01-13 18:00"), berlin("2026-01-13 22:00"), team.ben,
    )  # fmt: skip


# (case, form data changes, field id, errors)
BAD_COVERS = [
    ("no colleague", {"colleague": ""}, "cover_colleague", ["This field is required."]),
    ("ending before it starts", {"end": "2026-01-13T17:00"}, "cover_end", ["The time to cover must end after it starts."]),
    ("not a date", {"start": "soon"}, "cover_start", ["Enter a valid date/time."]),
    ("time Ben is not on call", {"start": "2026-01-13T09:00", "end": "2026-01-13T11:00"}, "cover_start",
     ["You are not on call on Primary for all of this time."]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "changes", "field", "errors"), BAD_COVERS, ids=[c[0] for c in BAD_COVERS]
)
def test_a_refused_cover_shows_the_error_beside_its_field(
    client, team, at_now, case, changes, field, errors
):
    data = {"schedule": team.schedule.pk, "colleague": team.ann.pk, "start": "2026-01-13T18:00",
            "end": "2026-01-13T22:00", "reason": ""}  # fmt: skip
    data |= changes
    before = Override.objects.count()
    response = signed_in(client, team.ben).post("/desk/oncall/cover/", data)
    assert response.status_code == 400
    assert field_errors(response.content.decode(), field) == errors
    assert Override.objects.count() == before


def test_the_calendar_week_shows_each_layer_the_overrides_and_the_result(client, team, at_now):
    desk = signed_in(client, team.ann)
    response = desk.get(f"/desk/oncall/schedules/{team.schedule.pk}/?date=2026-01-14")
    assert response.status_code == 200
    html = text(response)
    assert "Week of Mon 12 Jan 2026" in html
    rows = dict(
        re.findall(r'<tr class="row-(\w+)"> <th scope="row">(.*?)</th>', html)[i][::-1]
        for i in range(4)
    )
    assert rows == {
        "Layer: Business hours": "layer",
        "Layer: Base": "layer",
        "Overrides": "overrides",
        "On call": "final",
    }
    wednesday = [
        re.findall(r"<td>(.*?)</td>", row)[2]
        for row in re.findall(r'<tr class="row-\w+">(.*?)</tr>', html)
    ]
    assert wednesday == [
        '<div class="shift shift-layer">Cat C <small>10:00–17:00</small></div>',
        '<div class="shift shift-layer">Ben B <small>all day</small></div>',
        '<div class="shift shift-override">Dan D <small>20:00–24:00</small></div>',
        '<div class="shift shift-layer">Ben B <small>00:00–10:00</small></div>'
        '<div class="shift shift-layer">Cat C <small>10:00–17:00</small></div>'
        '<div class="shift shift-layer">Ben B <small>17:00–20:00</small></div>'
        '<div class="shift shift-override">Dan D <small>20:00–24:00</small> <small class="muted">override</small></div>',
    ]  # fmt: skip


def test_the_calendar_month_has_every_week_of_the_month(client, team, at_now):
    response = signed_in(client, team.ann).get(
        f"/desk/oncall/schedules/{team.schedule.pk}/?view=month&date=2026-03-10"
    )
    html = text(response)
    assert "<h2>March 2026</h2>" in html
    assert html.count('<table class="oncall-calendar">') == 6  # 23 Feb to 5 April
    assert 'aria-current="page">Month</strong>' in html
    assert "?view=month&amp;date=2026-02-01" in html
    assert "?view=month&amp;date=2026-04-01" in html


def test_the_calendar_page_query_count_is_flat(client, team, at_now, django_assert_num_queries):
    desk = signed_in(client, team.ann)
    url = f"/desk/oncall/schedules/{team.schedule.pk}/?view=month&date=2026-01-14"
    desk.get(url)  # warm the session
    # session, user, schedule, layers, participants, restrictions, overrides
    with django_assert_num_queries(7):
        assert desk.get(url).status_code == 200
    for n in range(3):
        make_layer(team.schedule, [AgentFactory.create(), AgentFactory.create()], name=f"Extra {n}",
                   position=5 + n, starts_at=berlin("2026-01-05 09:00"))  # fmt: skip
    with django_assert_num_queries(7):
        assert desk.get(url).status_code == 200


def test_the_on_call_page_query_count_is_flat(client, team, at_now, django_assert_num_queries):
    desk = signed_in(client, team.ben)
    desk.get("/desk/oncall/")
    with django_assert_num_queries(NOW_PAGE_QUERIES):
        desk.get("/desk/oncall/")
    for _ in range(3):
        schedule = ScheduleFactory.create()
        make_layer(
            schedule, [team.ben, AgentFactory.create()], starts_at=berlin("2026-01-05 09:00")
        )
    with django_assert_num_queries(NOW_PAGE_QUERIES):
        assert desk.get("/desk/oncall/").status_code == 200


NOW_PAGE_QUERIES = 20


def test_the_rail_links_to_on_call(client, team):
    html = signed_in(client, team.ann).get("/desk/").content.decode()
    assert '<a href="/desk/oncall/"><span>On call</span></a>' in html


def _desk_requests(team):
    return [
        ("get", "/desk/oncall/", {}),
        ("get", f"/desk/oncall/schedules/{team.schedule.pk}/", {}),
        ("get", "/desk/oncall/cover/", {}),
        ("post", "/desk/oncall/cover/", {"schedule": team.schedule.pk, "colleague": team.ann.pk,
                                         "start": "2026-01-13T18:00", "end": "2026-01-13T22:00"}),
        ("get", f"/desk/oncall/schedules/{team.schedule.pk}/handoff/?at=2026-01-13T09:00:00Z", {}),
        ("post", f"/desk/oncall/schedules/{team.schedule.pk}/handoff/?at=2026-01-13T09:00:00Z", {"follow_ups": "x"}),
    ]  # fmt: skip


def test_someone_who_is_not_an_agent_gets_404_and_changes_nothing(client, team, at_now):
    note = handoff_note_write(
        schedule=team.schedule,
        handoff_at=berlin("2026-01-12 09:00"),
        author=team.ann,
        follow_ups="x",
    )
    member = MembershipFactory.create(role="representative").user
    client.force_login(member)
    requests = [
        *_desk_requests(team),
        ("post", f"/desk/oncall/handoffs/{note.pk}/acknowledge/", {}),
    ]
    for method, url, data in requests:
        assert getattr(client, method)(url, data).status_code == 404, url
    assert Override.objects.count() == 1
    assert HandoffNote.objects.count() == 1
    note.refresh_from_db()
    assert note.acknowledged_at is None


def test_anonymous_visitors_are_sent_to_sign_in(client, team):
    for method, url, data in _desk_requests(team):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_on_call_page_and_the_note_form_list_the_open_pages(client, team, at_now):
    from incidents.paging.models import Page

    now = berlin(NOW)
    for n, (state, when) in enumerate(
        (
            ("triggered", {}),
            ("acknowledged", {"acknowledged_at": now}),
            ("resolved", {"resolved_at": now}),
        )
    ):
        Page.objects.create(
            cause="integration", dedup_key=f"disk-{n}", title=f"Disk full on db-{n}",
            severity="critical", state=state, **when,
        )  # fmt: skip
    desk = signed_in(client, team.ben)
    for url in (
        "/desk/oncall/",
        f"/desk/oncall/schedules/{team.schedule.pk}/handoff/?at=2026-01-13T09:00:00Z",
    ):
        html = text(desk.get(url))
        pages = found(r'<ul class="open-pages">(.*?)</ul>', html).group(1)
        assert re.findall(r'<a href="/desk/pages/\d+/">([^<]+)</a> <span class="badge">(\w+)</span>', pages) == [
            ("Disk full on db-0", "Triggered"), ("Disk full on db-1", "Acknowledged"),
        ], url  # fmt: skip


def test_the_calendar_keeps_local_handoffs_across_the_spring_change(client, team, at_now):
    html = text(
        signed_in(client, team.ann).get(
            f"/desk/oncall/schedules/{team.schedule.pk}/?date=2026-03-29"
        )
    )
    base = found(r'<tr class="row-layer"> <th scope="row">Layer: Base</th>(.*?)</tr>', html).group(
        1
    )
    cells = re.findall(r"<td>(.*?)</td>", base)
    assert (
        cells[6] == '<div class="shift shift-layer">Ben B <small>all day</small></div>'
    )  # 23 hours
    following = text(client.get(f"/desk/oncall/schedules/{team.schedule.pk}/?date=2026-03-30"))
    base = found(
        r'<tr class="row-layer"> <th scope="row">Layer: Base</th>(.*?)</tr>', following
    ).group(1)
    assert re.findall(r"<td>(.*?)</td>", base)[0] == (
        '<div class="shift shift-layer">Ben B <small>00:00–09:00</small></div>'
        '<div class="shift shift-layer">Ann A <small>09:00–24:00</small></div>'
    )
