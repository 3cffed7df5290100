"""The shared mail corpus: every message file under data/email (not its notes and licences)."""

from __future__ import annotations

from pathlib import Path

from bench.email_corpus import mail_files

CORPUS = Path("/work/shared/data/email")
BODIES = CORPUS / "email_reply_parser-bodies"


def corpus_files(root: Path = CORPUS) -> list[Path]:
    return mail_files([root])
