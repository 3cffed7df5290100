"""The routing engine: keyword matching, the rule table, severity and tier. Pure: no queries,
no I/O, no Django models. `routing.services` feeds it plain facts and writes what it decides.

Keyword syntax (rules' `keywords` and `negative_keywords`, the severity phrases below):

    deploy            a whole word, any case, with simple stemming: deploys, deployed,
                      deploying, deployment (the word's stem plus a common English ending)
    production down   a phrase: the words in this order, separated only by spaces or
                      punctuation, each stemmed as above
    "rbac"            in double quotes: the exact word(s), no stemming
    optimi*           a trailing star: any word that starts with "optimi"

A word never matches inside another word: "deploy" does not match "redeploy", "ci/cd"
matches "CI/CD" and "ci-cd" but not "cicd".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

# ---------------------------------------------------------------- keywords

MAX_KEYWORD_LENGTH = 100
MAX_KEYWORDS = 200

# Endings that stemming strips from a keyword, and that a word of the text may carry on
# top of the stem. Longest first; a stem keeps at least three letters.
SUFFIXES = (
    "ations", "ation", "abilities", "ability", "ments", "ment",
    "ness", "ings", "ing", "ions", "ion", "able", "ies", "ied", "ers", "er", "ors", "or",
    "ed", "es", "ly", "s", "e", "y",
)  # fmt: skip
_STEM_MIN = 3
_WORD = re.compile(r"[^\W_]+")
# Endings a text word may add to a stem; "" is the stem itself.
_ENDINGS = "|".join(re.escape(s) for s in sorted(SUFFIXES, key=len, reverse=True))
# Between the words of a phrase: a few characters that are neither letters nor digits, and
# no sentence boundary ("production. Down the line" is not "production down").
_GAP = r"(?:[^\w.!?;]|_){1,5}"
_VOWELS = frozenset("aeiou")


class KeywordError(ValueError):
    """A keyword that cannot be understood; the message says why, for a form or the API."""


def stem(word: str) -> str:
    """The keyword's stem: the word less one common English ending ("deployment" ->
    "deploy", "policies" -> "polic", "create" -> "creat"); short words stay whole."""
    word = word.casefold()
    for suffix in SUFFIXES:
        if not word.endswith(suffix) or len(word) - len(suffix) < _STEM_MIN:
            continue
        # "deploy" keeps its y (a vowel before it), "policy" loses it.
        if suffix == "y" and word[-2] in _VOWELS:
            continue
        return word[: -len(suffix)]
    return word


def _word_pattern(word: str, *, exact: bool, prefix: bool) -> str:
    if prefix:
        return re.escape(word) + r"[^\W_]*"
    if exact or len(word) < _STEM_MIN:
        return re.escape(word)
    root = stem(word)
    last = re.escape(root[-1])
    # The stem, then nothing or one ending, or a doubled last letter and an ending
    # ("stop" -> "stopped").
    return f"{re.escape(root)}(?:{last}?(?:{_ENDINGS}))?"


@dataclass(frozen=True)
class Keyword:
    text: str  # as written, normalised (trimmed, lower case, single spaces)
    pattern: re.Pattern[str]

    def find(self, text: str) -> str | None:
        """The first stretch of `text` this keyword matches, as written there, or None."""
        found = self.pattern.search(text)
        return found.group(0) if found else None


@lru_cache(maxsize=4096)
def parse_keyword(raw: str) -> Keyword:
    """Compile one keyword; KeywordError if it is malformed."""
    if not isinstance(raw, str):
        raise KeywordError("A keyword is a string.")
    text = " ".join(raw.split()).casefold()
    if not text:
        raise KeywordError("A keyword may not be blank.")
    if len(text) > MAX_KEYWORD_LENGTH:
        raise KeywordError(f"A keyword has at most {MAX_KEYWORD_LENGTH} characters.")
    exact = False
    body = text
    if '"' in text:
        if not (len(text) >= 2 and text.startswith('"') and text.endswith('"')):
            raise KeywordError(f"{raw!r}: quotes go around the whole keyword.")
        body = text[1:-1]
        if '"' in body:
            raise KeywordError(f"{raw!r}: unbalanced quotes.")
        exact = True
    parts = body.split(" ")
    patterns = []
    for index, part in enumerate(parts):
        prefix = part.endswith("*")
        word = part[:-1] if prefix else part
        if "*" in word:
            raise KeywordError(f"{raw!r}: a star may only end a word.")
        if prefix and (exact or index != len(parts) - 1):
            raise KeywordError(
                f"{raw!r}: only the last word of an unquoted keyword may end in a star."
            )
        pieces = _WORD.findall(word)
        if not pieces:
            raise KeywordError(f"{raw!r} has no letters or digits to match.")
        if prefix and len("".join(pieces)) < 2:
            raise KeywordError(f"{raw!r}: a prefix needs at least two letters.")
        # "ci/cd" is the two words ci and cd, written with anything but a letter between.
        sub = [
            _word_pattern(p, exact=exact, prefix=prefix and i == len(pieces) - 1)
            for i, p in enumerate(pieces)
        ]
        patterns.append(f"(?:{_GAP})".join(sub))
    pattern = rf"(?<![^\W_])(?:{f'(?:{_GAP})'.join(patterns)})(?![^\W_])"
    return Keyword(text=text, pattern=re.compile(pattern, re.IGNORECASE))


def clean_keywords(raw: object) -> list[str]:
    """Validate a keyword list from a form or the API: a list of strings, each well formed.
    Returns them normalised, without duplicates, in the order given; raises KeywordError."""
    if not isinstance(raw, list | tuple):
        raise KeywordError("Expected a list of keywords.")
    if len(raw) > MAX_KEYWORDS:
        raise KeywordError(f"At most {MAX_KEYWORDS} keywords.")
    seen: dict[str, None] = {}
    for item in raw:
        if not isinstance(item, str):
            raise KeywordError("Each keyword is a string.")
        seen[parse_keyword(item).text] = None
    return list(seen)


def find_terms(keywords: Iterable[str], text: str) -> list[str]:
    """The keywords found in `text` ("keyword" or "keyword: as written" when it differs)."""
    found = []
    for raw in keywords:
        keyword = parse_keyword(raw)
        hit = keyword.find(text)
        if hit is not None:
            written = " ".join(hit.split()).casefold()
            found.append(keyword.text if written == keyword.text else f"{keyword.text}: {hit}")
    return found


# ---------------------------------------------------------------- severity and tiers

SEVERITY_ORDER = ("low", "medium", "high", "critical")
TIER_ORDER = ("self_service", "community", "expert", "engineering", "emergency")

# Seed 000, Appendix B (issue severity definitions), as phrases. Highest level found wins;
# the assessment can only raise the requester's choice, never lower it.
SEVERITY_PHRASES: dict[str, tuple[str, ...]] = {
    "critical": (
        "production down", "production is down", "production outage", "prod down",
        "system down", "site down", "service down", "down for everyone", "outage",
        "security breach", "breach", "hacked", "compromised", "data loss", "lost data",
        "data corruption", "corrupted data", "corrupt data", "data is corrupt",
        "complete unavailability", "completely unavailable", "completely down",
        "unavailable for everyone", "nobody can log in", "nobody can access", "no one can access",
    ),
    "high": (
        "significant degradation", "significantly degraded", "severely degraded",
        "significant performance degradation", "very slow", "extremely slow",
        "completely broken", "does not work at all", "doesn't work at all",
        "not working at all", "vulnerability", "vulnerable", "cve", "many users",
        "multiple users", "several users", "all users", "all our users", "every user",
    ),
    "medium": (
        "partly working", "partially working", "partially", "partly", "intermittent",
        "intermittently", "sometimes fails", "workaround", "work around", "one user",
        "single user", "slow",
    ),
    "low": (
        "question", "how do i", "how can i", "how to", "feature request", "would be nice",
        "documentation", "docs", "tutorial", "best practice", "guidance", "training",
    ),
}  # fmt: skip

# Seed 000, routing rules: "complex technical issues, performance optimization, security
# implementation, custom development, architecture consultation" go to the expert tier.
COMPLEX_PHRASES: tuple[str, ...] = (
    "architecture", "custom development", "custom integration", "complex",
    "multi-system", "across systems", "performance optimization", "security implementation",
    "compliance",
)  # fmt: skip


def severity_max(a: str, b: str) -> str:
    return a if SEVERITY_ORDER.index(a) >= SEVERITY_ORDER.index(b) else b


def tier_step(tier: str, direction: str) -> str | None:
    """The tier one step up or down from `tier`, or None past either end."""
    index = TIER_ORDER.index(tier) + (1 if direction == "up" else -1)
    return TIER_ORDER[index] if 0 <= index < len(TIER_ORDER) else None


@dataclass(frozen=True)
class SeverityAssessment:
    severity: str | None  # the highest level whose phrases were found
    phrases: tuple[str, ...] = ()  # what was found at that level

    def as_dict(self) -> dict[str, object]:
        return {"severity": self.severity, "phrases": list(self.phrases)}


def assess_severity(text: str) -> SeverityAssessment:
    for level in reversed(SEVERITY_ORDER):
        found = find_terms(SEVERITY_PHRASES[level], text)
        if found:
            return SeverityAssessment(level, tuple(found))
    return SeverityAssessment(None)


def complexity_terms(text: str) -> list[str]:
    return find_terms(COMPLEX_PHRASES, text)


@dataclass(frozen=True)
class TierChoice:
    tier: str
    why: str


def decide_tier(
    *,
    severity: str,
    rule_tier: str | None,
    rule_name: str | None,
    category_tier: str | None,
    category_name: str | None,
    complex_terms: Sequence[str],
) -> TierChoice:
    """Seed 000's routeToTier: critical -> emergency; complex -> expert; otherwise the tier
    a rule set, else the category's default tier, else self service first."""
    if severity == "critical":
        return TierChoice("emergency", "critical severity goes to the emergency tier")
    if rule_tier:
        return TierChoice(rule_tier, f"set by rule “{rule_name}”")
    if category_tier:
        tier, why = category_tier, f"the default tier of category “{category_name}”"
    else:
        tier, why = "self_service", "no category: self service first"
    expert = TIER_ORDER.index("expert")
    if TIER_ORDER.index(tier) < expert:
        if severity == "high":
            return TierChoice("expert", f"{why}, raised to expert: high severity is complex")
        if complex_terms:
            return TierChoice(
                "expert", f"{why}, raised to expert: complex ({', '.join(complex_terms)})"
            )
    return TierChoice(tier, why)


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class RuleActions:
    category_id: int | None = None
    raise_severity: str = ""
    override_severity: bool = False
    tier: str = ""
    team_id: int | None = None
    tags: tuple[str, ...] = ()
    stop_processing: bool = False

    def describe(self, names: dict[str, str]) -> list[str]:
        """Readable actions; `names` maps "category:<id>" / "team:<id>" to names."""
        out = []
        if self.category_id is not None:
            out.append(f"category → {names.get(f'category:{self.category_id}', self.category_id)}")
        if self.raise_severity:
            verb = "set severity" if self.override_severity else "raise severity"
            out.append(f"{verb} → {self.raise_severity}")
        if self.tier:
            out.append(f"tier → {self.tier}")
        if self.team_id is not None:
            out.append(f"team → {names.get(f'team:{self.team_id}', self.team_id)}")
        if self.tags:
            out.append(f"tags + {', '.join(self.tags)}")
        if self.stop_processing:
            out.append("stop processing")
        return out


@dataclass(frozen=True)
class Rule:
    """One routing rule as the engine sees it. Empty conditions do not constrain."""

    id: int
    name: str
    position: int
    keywords: tuple[str, ...] = ()
    negative_keywords: tuple[str, ...] = ()
    match_in: str = "both"  # subject | description | both
    community_ids: frozenset[int] = frozenset()
    service_plan_ids: frozenset[int] = frozenset()
    channels: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    requester_is_representative: bool | None = None
    actions: RuleActions = field(default_factory=RuleActions)


@dataclass(frozen=True)
class Facts:
    """What the rules may look at."""

    subject: str
    description: str
    community_id: int | None = None
    service_plan_id: int | None = None
    channel: str = "portal"
    kind: str = "question"
    requester_is_representative: bool = True
    severity: str = "medium"  # as requested

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.description}"

    def searched(self, match_in: str) -> str:
        if match_in == "subject":
            return self.subject
        if match_in == "description":
            return self.description
        return self.text


@dataclass(frozen=True)
class Fired:
    rule: Rule
    matched: tuple[str, ...]  # the keywords that matched (empty for a rule without keywords)


def rule_matches(rule: Rule, facts: Facts) -> tuple[str, ...] | None:
    """The matched keywords when every condition of `rule` holds, else None."""
    if rule.community_ids and facts.community_id not in rule.community_ids:
        return None
    if rule.service_plan_ids and facts.service_plan_id not in rule.service_plan_ids:
        return None
    if rule.channels and facts.channel not in rule.channels:
        return None
    if rule.kinds and facts.kind not in rule.kinds:
        return None
    if (
        rule.requester_is_representative is not None
        and rule.requester_is_representative != facts.requester_is_representative
    ):
        return None
    text = facts.searched(rule.match_in)
    if rule.negative_keywords and find_terms(rule.negative_keywords, text):
        return None
    if not rule.keywords:
        return ()
    matched = find_terms(rule.keywords, text)
    return tuple(matched) if matched else None


@dataclass(frozen=True)
class RulesOutcome:
    fired: tuple[Fired, ...]
    category_id: int | None  # first rule (in order) that set one
    category_rule: str | None
    severity: str  # after the assessment and the rules
    severity_why: str
    tier: str | None  # first rule that set one
    tier_rule: str | None
    team_id: int | None  # first rule that set one
    tags: tuple[str, ...]
    assessment: SeverityAssessment
    stopped_by: str | None


def evaluate(rules: Sequence[Rule], facts: Facts) -> RulesOutcome:
    """Run the rules in order (position, then id) over the facts.

    Category, tier and team: the first rule that sets one wins. Severity starts at the
    requester's choice, is raised (never lowered) by the Appendix B assessment, then by
    each rule in order: `raise_severity` raises it, with `override_severity` it sets it
    (the only way to lower it). Tags accumulate. A rule with `stop_processing` ends the run.
    """
    assessment = assess_severity(facts.text)
    severity, severity_why = facts.severity, "as requested"
    if assessment.severity and severity_max(severity, assessment.severity) != severity:
        severity = assessment.severity
        severity_why = f"raised by the severity assessment ({', '.join(assessment.phrases)})"
    fired: list[Fired] = []
    category_id = team_id = None
    tier = category_rule = tier_rule = stopped_by = None
    tags: dict[str, None] = {}
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        matched = rule_matches(rule, facts)
        if matched is None:
            continue
        fired.append(Fired(rule, matched))
        act = rule.actions
        if act.category_id is not None and category_id is None:
            category_id, category_rule = act.category_id, rule.name
        if act.raise_severity:
            if act.override_severity:
                if act.raise_severity != severity:
                    severity, severity_why = act.raise_severity, f"set by rule “{rule.name}”"
            elif severity_max(severity, act.raise_severity) != severity:
                severity, severity_why = act.raise_severity, f"raised by rule “{rule.name}”"
        if act.tier and tier is None:
            tier, tier_rule = act.tier, rule.name
        if act.team_id is not None and team_id is None:
            team_id = act.team_id
        for tag in act.tags:
            tags[tag] = None
        if act.stop_processing:
            stopped_by = rule.name
            break
    return RulesOutcome(
        fired=tuple(fired),
        category_id=category_id,
        category_rule=category_rule,
        severity=severity,
        severity_why=severity_why,
        tier=tier,
        tier_rule=tier_rule,
        team_id=team_id,
        tags=tuple(tags),
        assessment=assessment,
        stopped_by=stopped_by,
    )
