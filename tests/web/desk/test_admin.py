"""The admin writes macros and saved filters through their services."""

from __future__ import annotations

from unittest import mock

import pytest

from tests.core.factories import AgentFactory, UserFactory
from tickets.models import Macro
from tickets.services import macros
from web.desk import services
from web.desk.services import saved_filter_create
from web.models import SavedFilter

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "path",
    ["/admin/tickets/macro/", "/admin/tickets/macro/add/", "/admin/web/savedfilter/",
     "/admin/web/savedfilter/add/"],
)  # fmt: skip
def test_the_admin_pages_render(admin_client, path):
    assert admin_client.get(path).status_code == 200


def test_the_admin_creates_and_changes_macros_through_the_service(admin_client):
    owner = AgentFactory.create()
    form = {"name": "Greeting", "body": "Hi {{ requester.first_name }}", "kind": "public",
            "owner": owner.pk, "active": "on"}  # fmt: skip

    with mock.patch.object(macros, "macro_create", wraps=macros.macro_create) as create:
        added = admin_client.post("/admin/tickets/macro/add/", form)
    macro = Macro.objects.get()
    with mock.patch.object(macros, "macro_update", wraps=macros.macro_update) as update:
        changed = admin_client.post(
            f"/admin/tickets/macro/{macro.pk}/change/", {**form, "kind": "internal", "owner": ""}
        )

    assert (added.status_code, changed.status_code) == (302, 302)
    assert create.call_count == update.call_count == 1
    macro.refresh_from_db()
    assert (macro.name, macro.kind, macro.owner, macro.active) == (
        "Greeting",
        "internal",
        None,
        True,
    )
    assert macro.history.count() == 2


def test_the_admin_creates_changes_and_deletes_saved_filters_through_the_services(admin_client):
    owner = AgentFactory.create()
    form = {
        "owner": owner.pk,
        "name": " Team GPU ",
        "params": '{"tag": "gpu", "q": ""}',
        "shared": "on",
    }

    with mock.patch("web.admin.saved_filter_create", wraps=services.saved_filter_create) as create:
        added = admin_client.post("/admin/web/savedfilter/add/", form)
    saved = SavedFilter.objects.get()
    with mock.patch("web.admin.saved_filter_update", wraps=services.saved_filter_update) as update:
        changed = admin_client.post(
            f"/admin/web/savedfilter/{saved.pk}/change/",
            {"name": "GPU", "params": '{"tag": "gpu", "status": ["new"]}'},
        )
    saved.refresh_from_db()
    state = (saved.owner, saved.name, saved.params, saved.shared)
    with mock.patch("web.admin.saved_filter_delete", wraps=services.saved_filter_delete) as delete:
        deleted = admin_client.post(f"/admin/web/savedfilter/{saved.pk}/delete/", {"post": "yes"})

    assert (added.status_code, changed.status_code, deleted.status_code) == (302, 302, 302)
    assert create.call_count == update.call_count == delete.call_count == 1
    assert state == (owner, "GPU", {"tag": "gpu", "status": ["new"]}, False)
    assert not SavedFilter.objects.exists()


@pytest.mark.parametrize(
    ("name", "params", "error"),
    [
        ("Odd", '{"password": "x"}', "Unknown filters: password."),
        ("Empty", '{"tag": ""}', "Choose at least one filter to save."),
        ("Taken", '{"tag": "gpu"}', "already has a filter called “Taken”."),
    ],
)
def test_the_admin_shows_a_refused_saved_filter_beside_the_field(admin_client, name, params, error):
    owner = AgentFactory.create()
    saved_filter_create(owner=owner, name="Taken", params={"tag": "x"})

    response = admin_client.post(
        "/admin/web/savedfilter/add/", {"owner": owner.pk, "name": name, "params": params}
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert SavedFilter.objects.count() == 1


def test_renaming_a_saved_filter_to_a_name_the_owner_uses_is_refused(admin_client):
    owner = AgentFactory.create()
    saved_filter_create(owner=owner, name="Taken", params={"tag": "x"})
    other = saved_filter_create(owner=owner, name="Other", params={"tag": "y"})

    response = admin_client.post(
        f"/admin/web/savedfilter/{other.pk}/change/", {"name": "Taken", "params": '{"tag": "y"}'}
    )

    assert response.status_code == 200
    assert f"{owner} already has a filter called “Taken”." in response.content.decode()
    other.refresh_from_db()
    assert other.name == "Other"
