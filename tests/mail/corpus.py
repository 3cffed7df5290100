"""The shared mail corpus: every message file under data/email (not its notes and licences)."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path("/work/shared/data/email")
BODIES = CORPUS / "email_reply_parser-bodies"
_NOT_MAIL = {"INDEX.csv", "SOURCE-overview.txt", "SOURCE.txt", ".gitattributes"}


def corpus_files(root: Path = CORPUS) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and path.name not in _NOT_MAIL and "LICENSE" not in path.name
    )
