"""The learned suggestion, on tiny synthetic tickets: training, the versioned file, loading
once per process, the threshold, the words shown, and the two commands."""

import csv
import os
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from routing import learning
from routing.models import RoutingDecision
from routing.services import config
from routing.services.learned import router_train
from tests.routing.factories import AgentProfileFactory, CategoryFactory, route
from tests.tickets.factories import TicketFactory
from tickets.services.lifecycle import ticket_open

TOPICS = {
    "storage": ["disk quota full", "home directory storage limit", "bucket storage quota",
                "out of disk space", "storage volume is full", "quota exceeded on disk"],
    "login": ["cannot log in", "password reset needed", "login page rejects password",
              "two factor login fails", "account locked after login attempts", "forgot my password"],
    "billing": ["invoice is wrong", "credit card charged twice", "billing address change",
                "refund for the invoice", "payment failed on invoice", "update billing details"],
}  # fmt: skip


def _data():
    texts = [t for phrases in TOPICS.values() for t in phrases]
    labels = [label for label, phrases in TOPICS.items() for _ in phrases]
    return texts, labels


def test_a_trained_model_suggests_a_label_with_confidence_and_the_words_behind_it():
    model = learning.train(*_data())

    suggestion = model.suggest("my disk quota is full again")

    assert suggestion.label == "storage"
    assert 0.34 < suggestion.confidence <= 1.0
    assert suggestion.words[:2] in (("disk", "quota"), ("quota", "disk"))
    assert suggestion.model_version == model.version
    assert model.labels == ("billing", "login", "storage")


def test_two_categories_are_enough_and_one_is_not():
    texts, labels = _data()
    two = learning.train(texts[:12], labels[:12])
    assert two.suggest("password reset").label == "login"
    with pytest.raises(learning.NotEnoughData):
        learning.train(texts[:6], labels[:6])


def test_the_model_file_is_versioned_and_loaded_once_per_process(tmp_path):
    path = tmp_path / "router.joblib"
    model = learning.train(*_data())
    learning.save(model, path)

    first = learning.model_for(path)
    again = learning.model_for(path)
    assert first is not None

    assert first is again
    assert (first.version, first.samples, first.settings) == (
        model.version, 18, learning.ModelSettings(),
    )  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["router.joblib"]  # no temporary left

    learning.save(learning.train(*_data()), path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert learning.model_for(path) is not first  # a new file is a new model


def test_a_missing_or_foreign_file_means_no_suggestions(tmp_path):
    import joblib

    assert learning.model_for(tmp_path / "none.joblib") is None
    joblib.dump({"format": 99}, tmp_path / "old.joblib")
    assert learning.model_for(tmp_path / "old.joblib") is None


@pytest.mark.django_db
def test_router_train_learns_from_resolved_tickets_and_routing_uses_a_confident_suggestion(
    settings, community, representative
):
    categories = {
        label: CategoryFactory.create(name=label.title(), slug=label, default_tier="expert")
        for label in TOPICS
    }
    for label, phrases in TOPICS.items():
        for phrase in phrases:
            TicketFactory.create(subject=phrase, description=phrase, status="closed",
                                 category=categories[label])  # fmt: skip
    TicketFactory.create(subject="disk", status="open", category=categories["billing"])  # not final
    settings.ROUTING_SUGGESTION_MIN_CONFIDENCE = 0.3

    report = router_train(min_per_category=6)

    assert (report.samples, report.per_category, report.left_out) == (
        18, {"billing": 6, "login": 6, "storage": 6}, {},
    )  # fmt: skip
    assert report.path == settings.ROUTING_MODEL_PATH
    AgentProfileFactory.create(tier_level=3)
    ticket = ticket_open(
        community=community, requester=representative, subject="Disk quota",
        description="our storage quota is full", opened_by=representative,
    )  # fmt: skip

    decision = route(ticket, "opened")

    suggestion: Any = decision.suggestion
    assert decision.category == categories["storage"]
    assert suggestion["used"] is True
    assert suggestion["label"] == "storage"
    assert suggestion["model_version"] == report.version
    assert "quota" in suggestion["words"]
    assert decision.category_why.startswith("suggested by the learned model (")
    assert decision.tier == "expert"


@pytest.mark.django_db
def test_a_rule_beats_the_model_and_a_weak_suggestion_is_only_shown(
    settings, community, representative
):
    model = learning.train(*_data())
    learning.save(model, settings.ROUTING_MODEL_PATH)
    CategoryFactory.create(slug="storage")
    login = CategoryFactory.create(slug="login")
    settings.ROUTING_SUGGESTION_MIN_CONFIDENCE = 1.01  # a threshold nothing reaches
    ticket = ticket_open(
        community=community, requester=representative, subject="Disk quota full",
        description="disk quota", opened_by=representative,
    )  # fmt: skip

    weak = route(ticket, "opened")
    config.rule_create(name="Everything is login", keywords=["disk"], set_category=login)
    ruled = route(ticket, RoutingDecision.Trigger.REROUTE)

    weak_guess: Any = weak.suggestion
    assert (weak.category, weak_guess["used"], weak_guess["label"]) == (None, False, "storage")
    assert weak.category_why.startswith(
        "none: no rule set a category (the learned model's guess, storage, was "
    )
    ruled_guess: Any = ruled.suggestion
    assert (ruled.category, ruled_guess["used"]) == (login, False)


@pytest.mark.django_db
def test_train_router_says_when_there_is_too_little_to_learn():
    with pytest.raises(CommandError, match="at least two categories"):
        call_command("train_router")


def _csv(path, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["body", "topic"])
        writer.writerows(rows)
    return path


def test_evaluate_router_cross_validates_a_labelled_csv(tmp_path, capsys):
    texts, labels = _data()
    data = _csv(tmp_path / "data.csv", zip(texts, labels, strict=True))

    call_command("evaluate_router", csv=str(data), text_column="body", label_column="topic",
                 folds=3)  # fmt: skip

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "data:      18 rows, 3 labels"
    assert out[1] == "method:    stratified 3-fold cross-validation (18 predictions)"
    assert out[2].startswith("model:     TF-IDF (sublinear) word 1-2-grams + char_wb 2-5-grams")
    assert out[3].startswith("accuracy:  ")
    assert out[4].startswith("macro-F1:  ")


def test_evaluate_router_scores_a_test_file_and_lists_confused_pairs(tmp_path, capsys):
    texts, labels = _data()
    train = _csv(tmp_path / "train.csv", zip(texts, labels, strict=True))
    test = _csv(
        tmp_path / "test.csv", [("disk quota full", "storage"), ("password reset", "billing")]
    )

    call_command("evaluate_router", csv=str(train), text_column="body", label_column="topic",
                 test_csv=str(test))  # fmt: skip

    out = capsys.readouterr().out.splitlines()
    assert out[1] == "method:    held-out test file (2 predictions)"
    assert out[3] == "accuracy:  0.5000"
    assert out[-2:] == ["most confused (true -> predicted: count):", "  billing -> login: 1"]


def test_evaluate_router_refuses_a_missing_column(tmp_path):
    data = _csv(tmp_path / "data.csv", [("a", "b")])
    with pytest.raises(CommandError, match="has no column text"):
        call_command("evaluate_router", csv=str(data), text_column="text", label_column="topic")
