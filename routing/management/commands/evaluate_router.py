"""How well the router's text classifier would do on a labelled CSV: accuracy, macro-F1
and the most confused pairs, on --test-csv when given, otherwise by stratified
cross-validation over --csv. The same model `train_router` fits; nothing is saved."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.learning import ModelSettings, NotEnoughData, evaluate


def read_labelled(
    path: Path | str, text_column: str, label_column: str
) -> tuple[list[str], list[str]]:
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            missing = [c for c in (text_column, label_column) if c not in columns]
            if missing:
                raise CommandError(f"{path} has no column {', '.join(missing)} (it has {columns}).")
            rows = [(row[text_column], row[label_column]) for row in reader]
    except OSError as error:
        raise CommandError(f"Cannot read {path}: {error}") from error
    rows = [(text, label) for text, label in rows if text and label]
    if not rows:
        raise CommandError(f"{path} has no labelled rows.")
    return [t for t, _ in rows], [label for _, label in rows]


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", type=Path, required=True, help="labelled training data")
        parser.add_argument("--text-column", required=True)
        parser.add_argument("--label-column", required=True)
        parser.add_argument("--test-csv", type=Path, help="held-out data with the same columns")
        parser.add_argument("--folds", type=int, default=5, help="cross-validation folds")
        parser.add_argument("--top", type=int, default=10, help="confused pairs to show")
        parser.add_argument("--c", type=float, default=ModelSettings.c, help="SVM C")

    def handle(self, *args: Any, **options: Any) -> None:
        texts, labels = read_labelled(
            options["csv"], options["text_column"], options["label_column"]
        )
        test_texts = test_labels = None
        if options["test_csv"]:
            test_texts, test_labels = read_labelled(
                options["test_csv"], options["text_column"], options["label_column"]
            )
        settings = ModelSettings(c=options["c"])
        started = time.perf_counter()
        try:
            result = evaluate(
                texts,
                labels,
                test_texts=test_texts,
                test_labels=test_labels,
                folds=options["folds"],
                settings=settings,
                top=options["top"],
            )
        except NotEnoughData as error:
            raise CommandError(str(error)) from error
        seconds = time.perf_counter() - started
        self.stdout.write(f"data:      {result.train_samples} rows, {result.labels} labels")
        self.stdout.write(f"method:    {result.method} ({result.test_samples} predictions)")
        self.stdout.write(f"model:     {settings.describe()}")
        self.stdout.write(f"accuracy:  {result.accuracy:.4f}")
        self.stdout.write(f"macro-F1:  {result.macro_f1:.4f}")
        self.stdout.write(f"time:      {seconds:.1f} s")
        if result.confused:
            self.stdout.write("most confused (true -> predicted: count):")
            for true, predicted, count in result.confused:
                self.stdout.write(f"  {true} -> {predicted}: {count}")
