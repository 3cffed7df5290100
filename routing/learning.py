"""The learned suggestion: a text classifier fitted on the desk's own resolved tickets.

The model is TF-IDF over word 1-2-grams and character 2-5-grams (within words, so that
"deploy", "deployment" and a typo of either share most of their features), a linear SVM,
and a sigmoid calibration fitted on cross-validated decisions so that the router gets a
probability it can hold against a threshold. The words shown beside a suggestion are those
whose features pushed the chosen class up the most (feature value × the SVM's weight).

Nothing here knows the database: `routing.services` hands texts and labels in, and the
router asks `suggest()` for a label (a category slug). The file written by `save()` carries
a format number, a version (the time it was trained) and the scikit-learn version it was
made with; `model_for()` loads it once per process and again only when the file changes.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from threading import Lock
from typing import Any

logger = logging.getLogger(__name__)

MODEL_FORMAT = 1
_TOKEN = re.compile(r"[^\W_]+")
_WORDS_SHOWN = 5


@dataclass(frozen=True)
class ModelSettings:
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    c: float = 0.5  # the SVM's regularisation: lower is smoother
    calibration_folds: int = 3

    def describe(self) -> str:
        return (
            f"TF-IDF (sublinear) word {self.word_ngrams[0]}-{self.word_ngrams[1]}-grams + "
            f"char_wb {self.char_ngrams[0]}-{self.char_ngrams[1]}-grams, LinearSVC C={self.c}, "
            f"sigmoid calibration over {self.calibration_folds} folds"
        )


class NotEnoughData(ValueError):
    pass


def build_pipeline(settings: ModelSettings, *, calibration_folds: int | None = None) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    features = FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    ngram_range=settings.word_ngrams,
                    sublinear_tf=True,
                    strip_accents="unicode",
                    token_pattern=r"(?u)\b\w+\b",  # noqa: S106 - a regular expression, not a secret
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=settings.char_ngrams,
                    sublinear_tf=True,
                    strip_accents="unicode",
                ),
            ),
        ]
    )
    folds = calibration_folds or settings.calibration_folds
    # ensemble=False: one SVM fitted on all the data, calibrated on out-of-fold decisions, so
    # the classes it picks are those of the plain SVM.
    classifier = CalibratedClassifierCV(
        LinearSVC(C=settings.c), method="sigmoid", cv=folds, ensemble=False
    )
    return Pipeline([("features", features), ("classify", classifier)])


def _calibration_folds(labels: Sequence[str], settings: ModelSettings) -> int:
    smallest = min(Counter(labels).values())
    if smallest < 2:
        raise NotEnoughData("Every label needs at least two examples.")
    return min(settings.calibration_folds, smallest)


@dataclass(frozen=True)
class Suggestion:
    label: str
    confidence: float
    words: tuple[str, ...]
    model_version: str


@dataclass
class TrainedModel:
    pipeline: Any
    version: str
    trained_at: str
    samples: int
    labels: tuple[str, ...]
    settings: ModelSettings
    sklearn_version: str
    _names: Any = field(default=None, repr=False)

    def _feature_names(self) -> Any:
        if self._names is None:
            self._names = self.pipeline.named_steps["features"].get_feature_names_out()
        return self._names

    def _weights(self) -> Any:
        calibrated = self.pipeline.named_steps["classify"].calibrated_classifiers_[0]
        return calibrated.estimator.coef_

    def suggest(self, text: str) -> Suggestion:
        import numpy as np

        features = self.pipeline.named_steps["features"].transform([text])
        classify = self.pipeline.named_steps["classify"]
        probabilities = classify.predict_proba(features)[0]
        best = int(np.argmax(probabilities))
        label = str(classify.classes_[best])
        weights = self._weights()
        row = weights[best] if weights.shape[0] > 1 else weights[0] * (1 if best == 1 else -1)
        return Suggestion(
            label=label,
            confidence=round(float(probabilities[best]), 4),
            words=self._words(text, features, row),
            model_version=self.version,
        )

    def _words(self, text: str, features: Any, weights: Any) -> tuple[str, ...]:
        """The words of `text` whose features raised the chosen class the most."""
        names = self._feature_names()
        tokens = [t.casefold() for t in _TOKEN.findall(text)]
        score: dict[str, float] = {}
        row = features.tocsr()
        for index, value in zip(row.indices, row.data, strict=True):
            contribution = float(value * weights[index])
            kind, _, gram = str(names[index]).partition("__")
            if kind == "word":
                owners = [w for w in gram.split(" ") if w]
            else:  # a character n-gram: credit the words it occurs in
                piece = gram.strip()
                owners = [t for t in set(tokens) if piece and piece in t]
            for owner in owners:
                score[owner] = score.get(owner, 0.0) + contribution / len(owners)
        ranked = [w for w, value in sorted(score.items(), key=lambda i: -i[1]) if value > 0]
        return tuple(ranked[:_WORDS_SHOWN])


def train(
    texts: Sequence[str], labels: Sequence[str], *, settings: ModelSettings | None = None
) -> TrainedModel:
    import sklearn

    settings = settings or ModelSettings()
    if len(set(labels)) < 2:
        raise NotEnoughData("Training needs examples of at least two categories.")
    pipeline = build_pipeline(settings, calibration_folds=_calibration_folds(labels, settings))
    pipeline.fit(list(texts), list(labels))
    now = datetime.now(tz=UTC)
    return TrainedModel(
        pipeline=pipeline,
        version=now.strftime("%Y%m%d%H%M%S"),
        trained_at=now.isoformat(timespec="seconds"),
        samples=len(texts),
        labels=tuple(str(c) for c in pipeline.named_steps["classify"].classes_),
        settings=settings,
        sklearn_version=sklearn.__version__,
    )


def save(model: TrainedModel, path: Path) -> None:
    """Write the model next to its final place, then move it there in one step, so that a
    worker never reads half a file."""
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": MODEL_FORMAT,
        "version": model.version,
        "trained_at": model.trained_at,
        "samples": model.samples,
        "labels": list(model.labels),
        "settings": model.settings,
        "sklearn_version": model.sklearn_version,
        "pipeline": model.pipeline,
    }
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".router-", suffix=".tmp")
    os.close(handle)
    try:
        joblib.dump(payload, temporary, compress=3)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


class ModelUnusable(ValueError):
    pass


def load(path: Path) -> TrainedModel:
    import joblib
    import sklearn

    # joblib files are pickles: only files this desk wrote (train_router) are loaded.
    payload = joblib.load(path)
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ModelUnusable(f"{path} is not a routing model of format {MODEL_FORMAT}.")
    if payload["sklearn_version"] != sklearn.__version__:
        raise ModelUnusable(
            f"{path} was trained with scikit-learn {payload['sklearn_version']}, this is "
            f"{sklearn.__version__}: run `manage.py train_router` again."
        )
    return TrainedModel(
        pipeline=payload["pipeline"],
        version=payload["version"],
        trained_at=payload["trained_at"],
        samples=payload["samples"],
        labels=tuple(payload["labels"]),
        settings=payload["settings"],
        sklearn_version=payload["sklearn_version"],
    )


_loaded: dict[str, tuple[int, TrainedModel | None]] = {}
_loading = Lock()


def model_for(path: Path) -> TrainedModel | None:
    """The model at `path`, loaded once per process (and again when the file is replaced);
    None when there is no usable model."""
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    key = str(path)
    cached = _loaded.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with _loading:
        cached = _loaded.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        model: TrainedModel | None
        try:
            model = load(path)
        except (ModelUnusable, OSError, EOFError, KeyError, ValueError) as error:
            logger.warning("No learned routing suggestions: %s", error)
            model = None
        _loaded[key] = (stamp, model)
        return model


def forget_loaded() -> None:
    """Drop the models loaded by this process (tests)."""
    _loaded.clear()


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    macro_f1: float
    confused: list[tuple[str, str, int]]  # (true label, predicted, count), most first
    train_samples: int
    test_samples: int
    labels: int
    method: str


def evaluate(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    test_texts: Sequence[str] | None = None,
    test_labels: Sequence[str] | None = None,
    folds: int = 5,
    settings: ModelSettings | None = None,
    top: int = 10,
) -> Evaluation:
    """Accuracy, macro-F1 and the most confused pairs: on the test set when one is given,
    otherwise stratified `folds`-fold cross-validation over `texts`."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    settings = settings or ModelSettings()
    if test_texts is not None and test_labels is not None:
        model = train(texts, labels, settings=settings)
        predicted = list(model.pipeline.predict(list(test_texts)))
        truth = list(test_labels)
        method = "held-out test file"
    else:
        if min(Counter(labels).values()) < folds:
            raise NotEnoughData(f"{folds}-fold cross-validation needs {folds} examples per label.")
        pipeline = build_pipeline(settings, calibration_folds=_calibration_folds(labels, settings))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        predicted = list(cross_val_predict(pipeline, list(texts), list(labels), cv=splitter))
        truth = list(labels)
        method = f"stratified {folds}-fold cross-validation"
    pairs = Counter((t, p) for t, p in zip(truth, predicted, strict=True) if t != p)
    return Evaluation(
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, average="macro")),
        confused=[(t, p, n) for (t, p), n in pairs.most_common(top)],
        train_samples=len(texts),
        test_samples=len(truth),
        labels=len(set(labels) | set(truth)),
        method=method,
    )
