"""docs/benchmarks.md holds every benchmark's figures: `bench/run_all.py` writes the page
and its API section, and each other benchmark owns one marked block of it, which it
replaces when it runs and which run_all keeps:

    <!-- bench:desk -->
    ## Desk pages
    ...
    <!-- /bench:desk -->
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"<!-- bench:{re.escape(name)} -->\n.*?<!-- /bench:{re.escape(name)} -->\n?", re.S
    )


def blocks(text: str) -> list[str]:
    """Every marked block of the page, in order."""
    return [
        m.group(0)
        for m in re.finditer(r"<!-- bench:([\w-]+) -->\n.*?<!-- /bench:\1 -->\n?", text, re.S)
    ]


def write_block(name: str, markdown: str, doc: Path = DOC) -> None:
    """Put `markdown` into the page as the block `name`, replacing an earlier one."""
    block = f"<!-- bench:{name} -->\n{markdown.rstrip()}\n<!-- /bench:{name} -->\n"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if _pattern(name).search(text):
        text = _pattern(name).sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def busy_note(busy: list[float | None], phases: str, *, above: float = 0.2) -> str:
    """A sentence for a page whose machine was busy (share of its CPU, per phase, just
    before each one), or "" when it was quiet enough."""
    if not any(b is not None and b > above for b in busy):
        return ""
    shares = ", ".join("n/a" if b is None else f"{b:.0%}" for b in busy)
    return (
        f"Other work kept the machine busy before the measurements ({shares} of its CPU "
        f"just before {phases}): the figures are pessimistic."
    )
