"""The routing engine's table: keywords, conditions, actions, order, severity and tiers.
Pure functions: no database."""

from typing import Any

import pytest

from routing import matching
from routing.matching import Facts, KeywordError, Rule, RuleActions, evaluate

# (keyword, text, what it matches as written, or None)
KEYWORD_CASES = [
    # whole words, any case
    ("deploy", "Deploy failed", "Deploy"),
    ("deploy", "DEPLOY FAILED", "DEPLOY"),
    ("deploy", "we redeploy nightly", None),
    ("deploy", "deployable", "deployable"),
    ("deploy", "deploy2", None),
    ("slow", "the slowest page", None),
    ("ci", "the cicd pipeline", None),
    # simple stemming: the stem plus one common ending, on both sides
    ("deploy", "deploys", "deploys"),
    ("deploy", "it deployed", "deployed"),
    ("deploy", "deploying now", "deploying"),
    ("deploy", "the deployment", "deployment"),
    ("deployment", "we deploy it", "deploy"),
    ("create", "creating a chart", "creating"),
    ("create", "chart creation", "creation"),
    ("create", "a creative idea", None),
    ("policy", "network policies", "policies"),
    ("vulnerability", "a vulnerable image", "vulnerable"),
    ("optimization", "optimizing queries", "optimizing"),
    ("stop", "it stopped", "stopped"),
    ("timeout", "many timeouts", "timeouts"),
    ("security", "secure boot", None),
    # quoted: exact words, no stemming
    ('"deploy"', "the deployment", None),
    ('"deploy"', "Deploy it", "Deploy"),
    # prefix with a trailing star
    ("optimi*", "optimisation", "optimisation"),
    ("optimi*", "optimize", "optimize"),
    ("optimi*", "reoptimize", None),
    # phrases: words in order, separated by spaces or punctuation, not by a sentence end
    ("production down", "Production down!", "Production down"),
    ("production down", "production  -  down", "production  -  down"),
    ("production down", "production is down", None),
    ("production down", "production. Down the line", None),
    ("production down", "down production", None),
    ("data loss", "data-loss", "data-loss"),
    ("ci/cd", "our CI/CD pipeline", "CI/CD"),
    ("ci/cd", "ci-cd", "ci-cd"),
    ("ci/cd", "ci cd", "ci cd"),
    ("ci/cd", "cicd", None),
    # digits and short words are exact
    ("503", "HTTP 503 errors", "503"),
    ("503", "HTTP 5030", None),
    ("cd", "cds", None),
]


@pytest.mark.parametrize(
    ("keyword", "text", "found"),
    KEYWORD_CASES,
    ids=[f"{k!r} in {t!r}" for k, t, _ in KEYWORD_CASES],
)
def test_keyword_matching(keyword, text, found):
    assert matching.parse_keyword(keyword).find(text) == found


BAD_KEYWORDS = [
    ("", "A keyword may not be blank."),
    ("   ", "A keyword may not be blank."),
    ("*", "'*' has no letters or digits to match."),
    ("!!!", "'!!!' has no letters or digits to match."),
    ("a*", "'a*': a prefix needs at least two letters."),
    ("foo*bar", "'foo*bar': a star may only end a word."),
    ("foo* bar", "'foo* bar': only the last word of an unquoted keyword may end in a star."),
    ('"foo', "'\"foo': quotes go around the whole keyword."),
    ('a"b"', "'a\"b\"': quotes go around the whole keyword."),
    ('"a"b"', '\'"a"b"\': unbalanced quotes.'),
    ("x" * 101, "A keyword has at most 100 characters."),
]


@pytest.mark.parametrize(
    ("keyword", "message"), BAD_KEYWORDS, ids=[k[:12] for k, _ in BAD_KEYWORDS]
)
def test_malformed_keywords_are_refused_with_a_reason(keyword, message):
    with pytest.raises(KeywordError) as refused:
        matching.parse_keyword(keyword)
    assert str(refused.value) == message


def test_a_keyword_list_is_normalised_and_deduplicated():
    assert matching.clean_keywords(["  Deploy ", "deploy", "Production   Down", '"RBAC"']) == [
        "deploy",
        "production down",
        '"rbac"',
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("deploy", "Expected a list of keywords."),
        (["deploy", 3], "Each keyword is a string."),
        (["ok"] * 201, "At most 200 keywords."),
    ],
)
def test_a_keyword_list_must_be_a_list_of_strings(value, message):
    with pytest.raises(KeywordError) as refused:
        matching.clean_keywords(value)
    assert str(refused.value) == message


def test_found_terms_show_how_they_were_written_when_it_differs():
    assert matching.find_terms(["deploy", "helm", "rbac"], "Deployment of Helm charts") == [
        "deploy: Deployment",
        "helm",
    ]


# ---------------------------------------------------------------- rules


def _rule(id, **kw):
    actions = kw.pop("actions", RuleActions(tier="expert"))
    return Rule(id=id, name=kw.pop("name", f"R{id}"), position=kw.pop("position", id * 10),
                actions=actions, **kw)  # fmt: skip


FACTS = Facts(
    subject="Deploy fails",
    description="Our helm upgrade times out on the cluster",
    community_id=7,
    service_plan_id=3,
    channel="email",
    kind="incident",
    requester_is_representative=True,
    severity="medium",
)

# (rule, matches FACTS?)
CONDITION_CASES = [
    (_rule(1, keywords=("deploy",)), True),
    (_rule(1, keywords=("rollback",)), False),
    (_rule(1, keywords=("rollback", "upgrade")), True),  # any keyword
    (_rule(1, keywords=("deploy",), negative_keywords=("cluster",)), False),
    (_rule(1, keywords=("deploy",), negative_keywords=("kubernetes",)), True),
    (_rule(1, negative_keywords=("kubernetes",)), True),  # only negatives: fires unless found
    (_rule(1, keywords=("deploy",), match_in="subject"), True),
    (_rule(1, keywords=("helm",), match_in="subject"), False),
    (_rule(1, keywords=("deploy",), match_in="description"), False),
    (_rule(1, keywords=("helm",), match_in="description"), True),
    (_rule(1, keywords=("deploy",), negative_keywords=("cluster",), match_in="subject"), True),
    (_rule(1, community_ids=frozenset({7, 8})), True),
    (_rule(1, community_ids=frozenset({8})), False),
    (_rule(1, service_plan_ids=frozenset({3})), True),
    (_rule(1, service_plan_ids=frozenset({4})), False),
    (_rule(1, channels=frozenset({"email", "api"})), True),
    (_rule(1, channels=frozenset({"portal"})), False),
    (_rule(1, kinds=frozenset({"incident"})), True),
    (_rule(1, kinds=frozenset({"question"})), False),
    (_rule(1, requester_is_representative=True), True),
    (_rule(1, requester_is_representative=False), False),
    # all conditions must hold
    (_rule(1, keywords=("deploy",), channels=frozenset({"email"}), kinds=frozenset({"incident"})), True),
    (_rule(1, keywords=("deploy",), channels=frozenset({"email"}), kinds=frozenset({"question"})), False),
    (_rule(1, keywords=("deploy",), community_ids=frozenset({8})), False),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "fires"), CONDITION_CASES)
def test_a_rule_fires_only_when_all_its_conditions_hold(rule, fires):
    assert (matching.rule_matches(rule, FACTS) is not None) is fires


def test_a_fired_rule_records_the_terms_it_matched():
    rule = _rule(1, keywords=("deploy", "upgrade", "rollback", "time out"))
    assert matching.rule_matches(rule, FACTS) == ("deploy", "upgrade", "time out: times out")


def test_rules_run_in_position_order_and_the_first_category_tier_and_team_win():
    rules = [
        _rule(1, position=30, keywords=("deploy",),
              actions=RuleActions(category_id=1, tier="community", team_id=5)),
        _rule(2, position=10, keywords=("helm",),
              actions=RuleActions(category_id=2, tier="engineering", team_id=6, tags=("helm",))),
        _rule(3, position=20, keywords=("cluster",), actions=RuleActions(tags=("k8s", "helm"))),
    ]  # fmt: skip
    outcome = evaluate(rules, FACTS)

    assert [f.rule.id for f in outcome.fired] == [2, 3, 1]
    assert (outcome.category_id, outcome.category_rule) == (2, "R2")
    assert (outcome.tier, outcome.tier_rule, outcome.team_id) == ("engineering", "R2", 6)
    assert outcome.tags == ("helm", "k8s")
    assert outcome.stopped_by is None


def test_equal_positions_run_in_id_order():
    rules = [
        _rule(2, position=10, keywords=("deploy",), actions=RuleActions(category_id=2)),
        _rule(1, position=10, keywords=("deploy",), actions=RuleActions(category_id=1)),
    ]
    assert evaluate(rules, FACTS).category_id == 1


def test_stop_processing_ends_the_run_after_that_rule():
    rules = [
        _rule(1, keywords=("deploy",), actions=RuleActions(tags=("a",), stop_processing=True)),
        _rule(2, keywords=("deploy",), actions=RuleActions(category_id=9, tags=("b",))),
    ]
    outcome = evaluate(rules, FACTS)

    assert [f.rule.id for f in outcome.fired] == [1]
    assert (outcome.category_id, outcome.tags, outcome.stopped_by) == (None, ("a",), "R1")


def test_a_rule_that_does_not_fire_does_not_stop_the_run():
    rules = [
        _rule(1, keywords=("rollback",), actions=RuleActions(stop_processing=True)),
        _rule(2, keywords=("deploy",), actions=RuleActions(category_id=9)),
    ]
    assert evaluate(rules, FACTS).category_id == 9


SEVERITY_ACTION_CASES = [
    # requested, actions of the firing rules in order, final severity, why
    ("medium", [RuleActions(raise_severity="high")], "high", "raised by rule “R1”"),
    ("high", [RuleActions(raise_severity="low")], "high", "as requested"),  # raise never lowers
    ("high", [RuleActions(raise_severity="low", override_severity=True)], "low", "set by rule “R1”"),
    ("low", [RuleActions(raise_severity="high"), RuleActions(raise_severity="medium")], "high",
     "raised by rule “R1”"),
    ("low", [RuleActions(raise_severity="medium"), RuleActions(raise_severity="critical")],
     "critical", "raised by rule “R2”"),
    ("critical", [RuleActions(raise_severity="medium", override_severity=True),
                  RuleActions(raise_severity="high")], "high", "raised by rule “R2”"),
]  # fmt: skip


@pytest.mark.parametrize(("requested", "actions", "final", "why"), SEVERITY_ACTION_CASES)
def test_rules_raise_severity_and_lower_it_only_with_an_override(requested, actions, final, why):
    facts = Facts(subject="Deploy", description="", severity=requested)
    rules = [_rule(i, keywords=("deploy",), actions=a) for i, a in enumerate(actions, start=1)]
    outcome = evaluate(rules, facts)
    assert (outcome.severity, outcome.severity_why) == (final, why)


# ---------------------------------------------------------------- severity (seed 000, Appendix B)

SEVERITY_PHRASES = [
    ("Production down since 9:00", "critical"),
    ("Our production is down", "critical"),
    ("Possible security breach on the hub", "critical"),
    ("We were hacked last night", "critical"),
    ("Data loss after the upgrade", "critical"),
    ("We see data corruption in the bucket", "critical"),
    ("The service is completely unavailable", "critical"),
    ("Complete unavailability of the API", "critical"),
    ("Significant degradation of response times", "high"),
    ("Search is completely broken", "high"),
    ("Log4j vulnerability in the image", "high"),
    ("Many users cannot start servers", "high"),
    ("Several users report errors", "high"),
    ("Uploads are partially working", "medium"),
    ("There is a workaround but it is painful", "medium"),
    ("Only one user is affected", "medium"),
    ("A single user sees this", "medium"),
    ("Question about quotas", "low"),
    ("How do I add a package?", "low"),
    ("Feature request: dark mode", "low"),
    ("Where is the documentation for profiles?", "low"),
    ("Please add xarray to the image", None),
]


@pytest.mark.parametrize(("text", "level"), SEVERITY_PHRASES)
def test_severity_assessment_follows_appendix_b(text, level):
    assert matching.assess_severity(text).severity == level


def test_the_highest_level_found_wins_and_its_phrases_are_kept():
    found = matching.assess_severity("Question: production down for many users?")
    assert (found.severity, found.phrases) == ("critical", ("production down",))


@pytest.mark.parametrize(
    ("requested", "text", "final"),
    [
        ("medium", "Production down", "critical"),
        ("low", "Many users affected", "high"),
        ("high", "Just a question", "high"),  # the requester's choice stands
        ("critical", "How do I reset it?", "critical"),
        ("low", "Nothing special", "low"),
    ],
)
def test_the_assessment_raises_the_requesters_choice_and_never_lowers_it(requested, text, final):
    assert evaluate([], Facts(subject=text, description="", severity=requested)).severity == final


# ---------------------------------------------------------------- tiers (seed 000, routeToTier)

TIER_CASES = [
    # severity, rule tier, category tier, complex terms, tier
    ("critical", None, None, [], "emergency"),
    ("critical", "community", "expert", [], "emergency"),  # critical goes to emergency, always
    ("low", None, None, [], "self_service"),
    ("medium", None, None, [], "self_service"),
    ("high", None, None, [], "expert"),  # complex
    ("medium", None, None, ["architecture"], "expert"),
    ("medium", None, "community", [], "community"),
    ("high", None, "community", [], "expert"),
    ("medium", None, "engineering", ["architecture"], "engineering"),  # never lowered to expert
    ("medium", "community", "expert", [], "community"),  # a rule's tier beats the category
    ("high", "self_service", None, [], "self_service"),  # and complexity
]


@pytest.mark.parametrize(
    ("severity", "rule_tier", "category_tier", "complex_terms", "tier"), TIER_CASES
)
def test_tier_mapping(severity, rule_tier, category_tier, complex_terms, tier):
    choice = matching.decide_tier(
        severity=severity,
        rule_tier=rule_tier,
        rule_name="R",
        category_tier=category_tier,
        category_name="C",
        complex_terms=complex_terms,
    )
    assert choice.tier == tier


def test_tier_reasons_say_why():
    def why(**kw):
        base: dict[str, Any] = {"severity": "medium", "rule_tier": None, "rule_name": "R", "category_tier": None,
                "category_name": "Security", "complex_terms": []}  # fmt: skip
        return matching.decide_tier(**{**base, **kw}).why

    assert why(severity="critical") == "critical severity goes to the emergency tier"
    assert why(rule_tier="community") == "set by rule “R”"
    assert why(category_tier="expert") == "the default tier of category “Security”"
    assert why() == "no category: self service first"
    assert why(severity="high") == (
        "no category: self service first, raised to expert: high severity is complex"
    )
    assert why(complex_terms=["architecture"]) == (
        "no category: self service first, raised to expert: complex (architecture)"
    )


@pytest.mark.parametrize(
    ("tier", "direction", "to"),
    [
        ("self_service", "up", "community"),
        ("community", "up", "expert"),
        ("expert", "up", "engineering"),
        ("engineering", "up", "emergency"),
        ("emergency", "up", None),
        ("emergency", "down", "engineering"),
        ("community", "down", "self_service"),
        ("self_service", "down", None),
    ],
)
def test_tiers_step_one_at_a_time(tier, direction, to):
    assert matching.tier_step(tier, direction) == to
