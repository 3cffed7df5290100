"""The admin: schedules with their layers and who is on call, layers saved with their
people and windows through the services, overrides, handoff notes; history everywhere."""

from __future__ import annotations

import re

import pytest

from incidents.oncall.models import Layer, LayerParticipant, Override, Schedule
from incidents.oncall.services import handoff_note_write
from tests.core.factories import AgentFactory
from tests.oncall.conftest import berlin

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = AgentFactory.create(is_superuser=True)
    client.force_login(admin)
    return client


def text(response) -> str:
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_schedule_page_lists_layers_and_who_is_on_call_for_14_days(
    admin_client, team, time_machine
):
    time_machine.move_to(berlin("2026-01-13 06:00"), tick=False)
    html = text(admin_client.get(f"/admin/oncall/schedule/{team.schedule.pk}/change/"))
    assert "<p><strong>Now: Ben B</strong> until Tue 13 Jan 10:00</p>" in html
    assert (
        "<tr><td>Tue 13 Jan 10:00</td><td>Tue 13 Jan 17:00</td><td>Cat C</td><td>layer Business hours</td></tr>"
        in html
    )
    assert (
        "<tr><td>Wed 14 Jan 20:00</td><td>Thu 15 Jan 08:00</td><td>Dan D</td><td>override</td></tr>"
        in html
    )
    assert "Weekly, handoff Monday 09:00" in html
    assert "Ann A, Ben B" in html
    assert "Monday 10:00–17:00" in html
    listing = text(admin_client.get("/admin/oncall/schedule/"))
    assert '<td class="field-on_call_now">Ben B</td>' in listing
    for url in (
        "/admin/oncall/layer/",
        f"/admin/oncall/layer/{team.base.pk}/change/",
        "/admin/oncall/override/",
        f"/admin/oncall/override/{team.override.pk}/change/",
        "/admin/oncall/handoffnote/",
        f"/admin/oncall/schedule/{team.schedule.pk}/history/",
        f"/admin/oncall/layer/{team.base.pk}/history/",
        "/admin/oncall/schedule/add/",
        "/admin/oncall/layer/add/",
        "/admin/oncall/override/add/",
    ):
        assert admin_client.get(url).status_code == 200, url  # fmt: skip


def _layer_form(schedule, people, **changes):
    data = {
        "schedule": schedule.pk, "name": "Nights", "position": 3, "kind": "daily",
        "shift_minutes": "", "handoff_weekday": 0, "handoff_time": "20:00",
        "starts_at_0": "2026-01-05", "starts_at_1": "20:00",
        "participants-TOTAL_FORMS": len(people), "participants-INITIAL_FORMS": 0,
        "restrictions-TOTAL_FORMS": 1, "restrictions-INITIAL_FORMS": 0,
        "restrictions-0-weekday": 0, "restrictions-0-start": "20:00", "restrictions-0-end": "08:00",
        "restrictions-0-ends_next_day": "on",
    }  # fmt: skip
    for index, person in enumerate(people):
        data[f"participants-{index}-position"] = index
        data[f"participants-{index}-user"] = person.pk
    return data | changes


def test_a_layer_is_added_with_its_people_through_the_service(admin_client, team):
    response = admin_client.post(
        "/admin/oncall/layer/add/", _layer_form(team.schedule, [team.cat, team.dan])
    )
    assert response.status_code == 302
    layer = Layer.objects.get(name="Nights")
    assert list(layer.participants.values_list("user", flat=True)) == [team.cat.pk, team.dan.pk]
    assert [str(r) for r in layer.restrictions.all()] == ["Monday 20:00–08:00 (next day)"]
    assert layer.history.get().history_user.is_superuser


def test_the_admin_refuses_a_layer_without_people_and_saves_nothing(admin_client, team):
    before = (Layer.objects.count(), LayerParticipant.objects.count())
    response = admin_client.post("/admin/oncall/layer/add/", _layer_form(team.schedule, []))
    assert "A rotation needs at least one participant." in text(response)
    custom = admin_client.post(
        "/admin/oncall/layer/add/",
        _layer_form(team.schedule, [team.cat], kind="custom", shift_minutes=0),
    )
    assert "A shift must last longer than zero." in text(custom)
    window = admin_client.post(
        "/admin/oncall/layer/add/",
        _layer_form(
            team.schedule,
            [team.cat],
            **{"restrictions-0-end": "20:00", "restrictions-0-ends_next_day": ""},
        ),
    )
    assert "The window ends when or before it starts" in text(window)
    assert (Layer.objects.count(), LayerParticipant.objects.count()) == before


def test_the_admin_refuses_an_unknown_time_zone_and_a_backup_loop(admin_client, team):
    response = admin_client.post(
        "/admin/oncall/schedule/add/",
        {"name": "Elsewhere", "time_zone": "Mars/Olympus", "description": ""},
    )
    assert "Mars/Olympus is not an IANA time zone" in text(response)
    backup = Schedule.objects.create(name="Backup", time_zone="UTC", backup_of=team.schedule)
    loop = admin_client.post(
        f"/admin/oncall/schedule/{team.schedule.pk}/change/",
        {"name": "Primary", "time_zone": "Europe/Berlin", "description": "", "backup_of": backup.pk,
         "layers-TOTAL_FORMS": 2, "layers-INITIAL_FORMS": 2, "layers-0-id": team.day.pk,
         "layers-0-schedule": team.schedule.pk, "layers-1-id": team.base.pk,
         "layers-1-schedule": team.schedule.pk},
    )  # fmt: skip
    assert "Backup is this schedule&#x27;s backup: it cannot back it up too." in text(loop)
    assert not Schedule.objects.filter(name="Elsewhere").exists()
    team.schedule.refresh_from_db()
    assert team.schedule.backup_of is None


def test_an_override_is_added_through_the_service_and_refused_when_it_ends_first(
    admin_client, team
):
    data = {"schedule": team.schedule.pk, "user": team.cat.pk, "start_0": "2026-02-01", "start_1": "09:00",
            "end_0": "2026-02-01", "end_1": "08:00", "reason": "Swap"}  # fmt: skip
    refused = admin_client.post("/admin/oncall/override/add/", data)
    assert "An override ends after it starts." in text(refused)
    assert Override.objects.count() == 1
    saved = admin_client.post("/admin/oncall/override/add/", data | {"end_1": "18:00"})
    assert saved.status_code == 302
    override = Override.objects.get(reason="Swap")
    assert override.created_by is not None
    assert override.created_by.is_superuser


def test_handoff_notes_are_shown_read_only(admin_client, team):
    note = handoff_note_write(
        schedule=team.schedule,
        handoff_at=berlin("2026-01-12 09:00"),
        author=team.ann,
        follow_ups="Disk",
    )
    html = text(admin_client.get(f"/admin/oncall/handoffnote/{note.pk}/change/"))
    assert "Disk" in html
    assert 'name="follow_ups"' not in html


def test_deleting_a_layer_in_the_admin_keeps_who_did_it(admin_client, team):
    response = admin_client.post(f"/admin/oncall/layer/{team.day.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Layer.objects.filter(pk=team.day.pk).exists()
    deleted = Layer.history.get(id=team.day.pk, history_type="-")
    assert deleted.history_user.is_superuser
    assert LayerParticipant.history.filter(layer_id=team.day.pk, history_type="-").count() == 1
