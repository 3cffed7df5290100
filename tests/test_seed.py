import pytest
from django.core.management import call_command

from communities.models import Community, Membership, ServicePlan, SupportBudget, TimeEntry
from core.models import User
from tickets.models import Macro, Message, Ticket

pytestmark = pytest.mark.django_db


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            User,
            ServicePlan,
            Community,
            Membership,
            SupportBudget,
            Ticket,
            Message,
            Macro,
            TimeEntry,
        )
    }


def test_the_demo_data_loads_once_however_often_it_runs():
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")

    assert _counts() == first
    assert first["ServicePlan"] == 4
    assert first["Community"] == 4
    assert User.objects.filter(is_staff=True, is_superuser=False).count() == 4
    assert User.objects.get(email="admin@example.com").is_superuser
    statuses = set(Ticket.objects.values_list("status", flat=True))
    assert statuses == {
        "in_progress",
        "awaiting_approval",
        "waiting_on_customer",
        "pending",
        "resolved",
    }
    assert Message.objects.filter(kind="internal").count() == 1


def test_every_demo_login_works(client):
    call_command("seed_demo")
    for email in (
        "admin@example.com",
        "agent1@example.com",
        "rep@aurora.example",
        "member@aurora.example",
    ):
        assert client.login(email=email, password="demo-password"), email
