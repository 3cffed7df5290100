"""Ranking on a small fixed knowledge base, exact order asserted."""

from __future__ import annotations

import pytest

from knowledgebase.search.services import search, suggest
from tests.knowledgebase.factories import ArticleFactory

pytestmark = pytest.mark.django_db

ARTICLES = [
    # slug, title, summary, tags, body
    (
        "reset-password",
        "Reset your password",
        "Forgotten passwords and locked accounts.",
        ["accounts", "login"],
        "Open the sign-in page, choose **Forgot password** and follow the link we email you.",
    ),
    (
        "vpn-setup",
        "Connect to the VPN",
        "Install the client and sign in.",
        ["network"],
        "Download the VPN client, import the profile and connect with your account password.",
    ),
    (
        "quota",
        "Storage quota exceeded",
        "What to do when your disk is full.",
        ["storage"],
        "Delete old files or ask for a bigger quota; backups do not count against it.",
    ),
    (
        "backup-restore",
        "Restore a file from backup",
        "Snapshots are kept for 30 days.",
        ["storage", "backups"],
        "Browse the snapshot folder, copy the file back. Restoring a whole disk needs a ticket.",
    ),
    (
        "mfa",
        "Set up two-factor authentication",
        "Protect your account with a second factor.",
        ["accounts", "security"],
        "Scan the QR code with an authenticator app. Keep the recovery codes safe.",
    ),
    (
        "email-forwarding",
        "Forward your email",
        "Send mail on to another address.",
        ["email"],
        "In the mail settings add a forwarding rule. Forwarding to external addresses is allowed.",
    ),
]


@pytest.fixture
def kb(db):
    return {
        slug: ArticleFactory.create(slug=slug, title=title, summary=summary, tags=tags, body=body)
        for slug, title, summary, tags, body in ARTICLES
    }


def slugs(result):
    return [hit.slug for hit in result.hits]


def test_a_question_finds_its_article_first_and_the_title_outranks_the_body(kb, agent):
    result = search(user=agent, q="How do I reset my password?", log=False)
    assert slugs(result) == ["reset-password", "vpn-setup"]


def test_words_in_any_field_rank_title_over_summary_over_body(kb, agent):
    assert slugs(search(user=agent, q="backup", log=False)) == ["backup-restore", "quota"]


def test_a_word_in_several_articles_ranks_them_all(kb, agent):
    assert slugs(search(user=agent, q="account", log=False)) == [
        "mfa", "reset-password", "vpn-setup",
    ]  # fmt: skip


def test_stemming_matches_other_forms_of_a_word(kb, agent):
    assert slugs(search(user=agent, q="forwarding emails", log=False))[0] == "email-forwarding"


def test_a_typo_still_finds_the_title(kb, agent):
    # "pasword" is corrected to the index's "password": the title outranks the VPN's body.
    assert slugs(search(user=agent, q="pasword", log=False)) == ["reset-password", "vpn-setup"]
    assert slugs(search(user=agent, q="two-factr authentcation", log=False))[0] == "mfa"


def test_suggestions_complete_the_last_word_being_typed(kb, agent):
    assert slugs(suggest(user=agent, q="restore a fil", log=False)) == ["backup-restore", "quota"]


def test_only_stop_words_find_nothing(kb, agent):
    assert slugs(search(user=agent, q="how do I", log=False)) == []


def test_snippets_mark_the_words_and_escape_the_text(db, agent):
    ArticleFactory.create(title="Quota <b>alert</b>", body="Your quota is <script>x</script> full.")
    hit = search(user=agent, q="quota", log=False).hits[0]
    assert hit.title_html == "<mark>Quota</mark> &lt;b&gt;alert&lt;/b&gt;"
    # Markup in the text is dropped from the snippet; what remains is escaped.
    assert hit.snippet_html == "What this article answers. Your <mark>quota</mark> is x full"
