"""``ser crossval``: cross-validation by speaker, the field's protocol, as one command.

    speakers --folds (K, or one per speaker)--> for each fold:
        test speakers: this fold, scored once at the end
        validation speakers: a few of the other speakers (early stopping, model selection)
        training speakers: the rest
        every model trains on the same speakers and is tested on the same speakers
    -> per model: mean +- sd of the folds' UAR, pooled UAR, accuracy (WA), macro F1

The classic baseline (``ser.baseline``: utterance statistics, per-speaker standardisation,
a kernel classifier) is always one of the rows, so a network's row says at once whether it
earns its cost. Having no epochs or settings to select, it trains on the training and the
validation speakers together.

The results are written after every fold (``crossval.json``, atomically), so an interrupted
or failing run keeps what it finished; a model that fails in one fold is named there with
its error, and the other models and folds go on.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser import recipes
from ser.augmentation import WAVEFORM_AUGMENTATIONS, perturbed_copies
from ser.baseline import KernelRidgeClassifier, standardise_per_speaker, utterance_statistics
from ser.corpus import Corpus
from ser.corpus.splits import pick_validation_speakers, speaker_folds
from ser.experiment import (
    Scores,
    auxiliary_labels,
    feature_config,
    feature_sets,
    fit_recipe,
    predict_proba,
)
from ser.inputs import InputSpec
from ser.io import atomic_write
from ser.pipeline import extract

__all__ = ["BASELINE", "DEFAULT_MODEL", "FoldPlan", "plan_folds", "run_crossval"]

BASELINE = "baseline"
DEFAULT_MODEL = "cnn1d-spk"  # the recommended recipe for real speech (docs/evaluation.md)
_BASELINE_SPEC = InputSpec(layout="sequence")  # 13 MFCCs of the default preset


@dataclass(frozen=True)
class FoldPlan:
    """The utterances of one fold: trained on, validated on, tested on."""

    index: int
    test: tuple[str, ...]  # the test speakers (or, for an utterance split, "utterances")
    validation_speakers: tuple[str, ...]
    train: tuple
    validation: tuple
    test_utterances: tuple


def _subset(corpus, speakers):
    speakers = set(speakers)
    return tuple(u for u in corpus if u.speaker in speakers)


def plan_folds(
    corpus: Corpus,
    *,
    k: int | None = 6,
    loso: bool = False,
    seed: int = 0,
    split: str = "speakers",
    validation_fraction: float = 0.1,
) -> list[FoldPlan]:
    """The folds of a cross-validation, with validation speakers in each.

    ``split="speakers"`` (the field's protocol): folds of speakers (``speaker_folds``), the
    validation speakers taken from the fold's training speakers. ``split="utterances"``:
    folds of utterances drawn at random, every speaker in training and test alike; only to
    measure how much such a split inflates the scores (docs/evaluation.md).
    """
    if split == "utterances":
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(corpus))
        if k is None or not 2 <= k <= len(corpus):
            raise ValueError(f"an utterance split needs 2 <= folds <= {len(corpus)}, got {k}")
        plans = []
        for i in range(k):
            test = set(order[i::k].tolist())
            rest = [j for j in order.tolist() if j not in test]
            n_val = max(1, round(validation_fraction * len(rest)))
            val, train = set(rest[:n_val]), rest[n_val:]
            plans.append(
                FoldPlan(
                    i,
                    ("utterances",),
                    (),
                    tuple(corpus[j] for j in sorted(train)),
                    tuple(corpus[j] for j in sorted(val)),
                    tuple(corpus[j] for j in sorted(test)),
                )
            )
        return plans
    if split != "speakers":
        raise ValueError(f"split must be 'speakers' or 'utterances', got {split!r}")
    plans = []
    for i, test in enumerate(speaker_folds(corpus, k=k, seed=seed, loso=loso)):
        rest = [s for s in corpus.speakers if s not in test]
        val = pick_validation_speakers(corpus, rest, fraction=validation_fraction, seed=seed + i)
        train = [s for s in rest if s not in val]
        plans.append(
            FoldPlan(
                i,
                tuple(test),
                tuple(val),
                _subset(corpus, train),
                _subset(corpus, val),
                _subset(corpus, test),
            )
        )
    return plans


def _check(corpus: Corpus, labels, plans) -> None:
    """Refuse, before any training, what cannot give a UAR."""
    for plan in plans:
        for part, utterances in (("test", plan.test_utterances), ("training", plan.train)):
            have = {u.emotion for u in utterances}
            lacking = [e for e in labels if e not in have]
            if lacking:
                who = ", ".join(plan.test)
                raise ValueError(
                    f"fold {plan.index + 1} (test speakers {who}): its {part} speakers have no "
                    f"utterances of {', '.join(lacking)}, so its UAR is undefined; use fewer "
                    "folds, or --emotions without them"
                )


# ---- the models of one fold -------------------------------------------------------------
class _Baseline:
    """The baseline on every fold: statistics of every utterance, standardised over each
    speaker's own utterances once (labels unused), then, per fold, the kernel classifier
    trained on the training and validation utterances."""

    def __init__(self, corpus, raw, labels):
        utterances = list(corpus)
        x = np.array([utterance_statistics(raw[u]["mfcc"]) for u in utterances])
        self.vectors = standardise_per_speaker(x, [u.speaker for u in utterances])  # eq. B-1
        self.row = {u: i for i, u in enumerate(utterances)}
        self.labels = list(labels)

    def predict(self, plan):
        train = plan.train + plan.validation
        y = np.array([self.labels.index(u.emotion) for u in train])
        clf = KernelRidgeClassifier().fit(
            self.vectors[[self.row[u] for u in train]], y, n_classes=len(self.labels)
        )  # eq. B-2
        return clf.predict(self.vectors[[self.row[u] for u in plan.test_utterances]])


class _Network:
    """A recipe on every fold. A speaker's (or an utterance's) own statistics do not depend on
    the fold, so those inputs are normalised once for the whole corpus and each fold takes its
    utterances; statistics of the training speakers are fitted again in every fold."""

    def __init__(self, recipe, corpus, raw, labels, seed, copies=()):
        self.recipe, self.raw, self.labels, self.seed = recipe, raw, list(labels), seed
        self.copies = {}  # source utterance -> its perturbed copies (training only)
        by_id = {u.id: u for u in corpus}
        for c in copies:
            self.copies.setdefault(by_id[c.fields["source"]], []).append(c)
        self.whole = None
        if recipe.inputs.normalisation != "training":
            everything = [*corpus, *copies]
            sets, _ = feature_sets(recipe.inputs, {"all": everything}, raw, labels)
            self.whole = sets["all"]
            self.row = {u: i for i, u in enumerate(everything)}

    def _sets(self, plan):
        train = [*plan.train, *(c for u in plan.train for c in self.copies.get(u, ()))]
        parts = {"train": train, "validation": plan.validation, "test": plan.test_utterances}
        if self.whole is None:
            return feature_sets(
                self.recipe.inputs, {k: list(v) for k, v in parts.items()}, self.raw, self.labels
            )[0]
        return {k: self.whole.subset([self.row[u] for u in v]) for k, v in parts.items() if v}

    def predict(self, plan):
        """(predictions, epochs trained, predictions of each test file heard alone or None)."""
        sets = self._sets(plan)
        train = [*plan.train, *(c for u in plan.train for c in self.copies.get(u, ()))]
        model, history = fit_recipe(
            self.recipe,
            sets["train"],
            sets.get("validation"),
            labels=self.labels,
            config=feature_config(self.recipe),
            seed=self.seed,
            verbose=0,
            auxiliary=auxiliary_labels(self.recipe, train),
        )
        probs = predict_proba(model, sets["test"], adapt=self.recipe.adapt_batchnorm)
        if not np.all(np.isfinite(probs)):
            raise FloatingPointError("training diverged: the predictions are not finite numbers")
        return probs.argmax(axis=1), len(history.epoch), self._alone(model, plan, sets["test"])

    def _alone(self, model, plan, test):
        """What ``ser predict`` gives a file on its own, with nothing known of its speaker:
        the file's own statistics in place of its speaker's, the batch normalisation as
        trained (no adaptation). None for recipes that do not use speakers at test time."""
        spec = self.recipe.inputs
        if spec.normalisation != "speaker" and not self.recipe.adapt_batchnorm:
            return None
        if spec.normalisation == "speaker":
            alone = dataclasses.replace(spec, normalisation="utterance")
            parts = {"test": list(plan.test_utterances)}
            test = feature_sets(alone, parts, self.raw, self.labels)[0]["test"]
        return predict_proba(model, test, adapt=False).argmax(axis=1)


# ---- summary -------------------------------------------------------------------------------
def _summary(name, folds, labels):
    done = [f["models"][name] for f in folds if "uar" in f["models"].get(name, {})]
    fold_uar = [f["models"].get(name, {}).get("uar") for f in folds]
    if not done:
        return {
            "uar_mean": None,
            "uar_sd": None,
            "uar_pooled": None,
            "accuracy": None,
            "macro_f1": None,
            "fold_uar": fold_uar,
            "folds_done": 0,
        }
    y_true = np.concatenate([d["y_true"] for d in done])
    y_pred = np.concatenate([d["y_pred"] for d in done])
    pooled = Scores.of(y_true, y_pred, labels)
    values = np.array([d["uar"] for d in done])
    return {
        "uar_mean": float(values.mean()),
        "uar_sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "uar_pooled": pooled.uar,
        "accuracy": pooled.accuracy,
        "macro_f1": pooled.macro_f1,
        "fold_uar": fold_uar,
        "folds_done": len(done),
        "confusion": pooled.confusion.tolist(),
        "seconds": float(sum(d["seconds"] for d in done)),
        "uar_alone_mean": float(np.mean([d["uar_alone"] for d in done]))
        if all("uar_alone" in d for d in done)
        else None,
    }


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def run_crossval(
    corpus: Corpus,
    *,
    models=(DEFAULT_MODEL,),
    labels=None,
    k: int | None = 6,
    loso: bool = False,
    seed: int = 0,
    split: str = "speakers",
    overrides: dict | None = None,
    cache_dir=None,
    out=None,
    log=print,
) -> dict:
    """Cross-validate ``models`` (recipe names or ``Recipe`` objects; the baseline is always
    added) on ``corpus``.

    Returns the content of ``crossval.json``. With ``out``, that file is rewritten
    atomically after every fold (``"complete": false`` and ``"folds_done"`` say how far it
    got), and at the end it is published together with ``report.md`` and the figures
    (``ser.io.StagedOutputs``): the report in ``out`` always describes the JSON beside it,
    or an older, complete run.
    """
    labels = list(labels or corpus.emotions)
    missing = [e for e in labels if e not in corpus.emotions]
    if missing:
        raise ValueError(
            f"{corpus.name} has no utterances of {', '.join(missing)}; it has "
            f"{', '.join(corpus.emotions)}"
        )
    if len(labels) < 2:
        raise ValueError(f"classification needs at least two emotions, got {labels}")
    corpus = corpus.select(emotions=labels)
    given = {m if isinstance(m, str) else m.name: m for m in models}  # names or Recipes
    names = list(dict.fromkeys([*given, BASELINE]))
    chosen = {
        n: (recipes.get(r) if isinstance(r, str) else r).replace(**(overrides or {}))
        for n, r in given.items()
        if n != BASELINE
    }
    plans = plan_folds(corpus, k=k, loso=loso, seed=seed, split=split)
    _check(corpus, labels, plans)

    t_start = time.perf_counter()
    baseline_config = feature_config(recipes.get("cnn"))  # 13 MFCCs of the default preset
    needs = {}  # feature config -> the kinds the recipes with that config read
    for config, spec in [(feature_config(r), r.inputs) for r in chosen.values()] + [
        (baseline_config, _BASELINE_SPEC)
    ]:
        needs.setdefault(config, set()).update(spec.kinds)
    copies = {}  # recipe -> its waveform-augmented copies of every utterance (training only)
    for name, recipe in chosen.items():
        wanted = [a for a in recipe.augment if a in WAVEFORM_AUGMENTATIONS]
        if wanted:
            copies[name] = perturbed_copies(corpus, wanted, seed=seed)
    raw = {}  # feature config -> utterance -> {kind: array}: one extraction per config
    for config, kinds in needs.items():
        users = [n for n in chosen if feature_config(chosen[n]) == config]
        utterances = [*corpus, *dict.fromkeys(c for n in users for c in copies.get(n, ()))]
        log(f"features: {', '.join(sorted(kinds))} of {len(utterances)} utterances")
        extracted = extract(utterances, config=config, kinds=sorted(kinds), cache_dir=cache_dir)
        raw[config] = {u: {k: extracted[k][i] for k in kinds} for i, u in enumerate(utterances)}
    result = {
        "corpus": corpus.name,
        "emotions": labels,
        "protocol": "leave one speaker out"
        if loso
        else (
            f"{len(plans)} folds of speakers"
            if split == "speakers"
            else f"{len(plans)} folds of random utterances (speakers in train and test)"
        ),
        "seed": seed,
        "folds": [
            list(p.test) if split == "speakers" else [u.id for u in p.test_utterances]
            for p in plans
        ],
        "validation_speakers": [list(p.validation_speakers) for p in plans],
        "default_model": DEFAULT_MODEL,
        "complete": False,  # until every fold has run: a file left by a kill says so
        "folds_done": 0,
        "models": {},
        "failures": [],
        "fold_results": [],
    }
    log(
        f"cross-validation: {result['protocol']}, {len(labels)} emotions, models {', '.join(names)}"
    )
    runners = {
        name: _Baseline(corpus, raw[baseline_config], labels)
        if name == BASELINE
        else _Network(
            chosen[name],
            corpus,
            raw[feature_config(chosen[name])],
            labels,
            seed,
            copies.get(name, ()),
        )
        for name in names
    }
    t_folds = time.perf_counter()
    for plan in plans:
        fold = {"index": plan.index, "test": list(plan.test), "models": {}}
        y_true = np.array([labels.index(u.emotion) for u in plan.test_utterances])
        for name in names:
            t0 = time.perf_counter()
            try:
                if name == BASELINE:
                    y_pred, epochs, alone = runners[name].predict(plan), None, None
                else:
                    y_pred, epochs, alone = runners[name].predict(plan)
            except (ValueError, FloatingPointError, ArithmeticError, MemoryError) as err:
                message = f"{type(err).__name__}: {err}"
                fold["models"][name] = {"error": message}
                result["failures"].append({"fold": plan.index + 1, "model": name, "error": message})
                log(f"  fold {plan.index + 1}: {name} failed: {message}")
                continue
            s = Scores.of(y_true, y_pred, labels)
            fold["models"][name] = {
                "uar": s.uar,
                "accuracy": s.accuracy,
                "macro_f1": s.macro_f1,
                "y_true": y_true.tolist(),
                "y_pred": y_pred.tolist(),
                "seconds": time.perf_counter() - t0,
                "epochs": epochs,
            }
            if alone is not None:  # each file on its own, as `ser predict` hears it
                fold["models"][name]["uar_alone"] = Scores.of(y_true, alone, labels).uar
        result["fold_results"].append(fold)
        result["models"] = {n: _summary(n, result["fold_results"], labels) for n in names}
        done = plan.index + 1
        elapsed = time.perf_counter() - t_folds
        left = elapsed / done * (len(plans) - done)
        scores = " | ".join(
            f"{n} UAR {m['uar']:.3f} acc {m['accuracy']:.3f}" if "uar" in m else f"{n} failed"
            for n, m in fold["models"].items()
        )
        who = (
            ", ".join(plan.test)
            if split == "speakers"
            else f"{len(plan.test_utterances)} utterances"
        )
        log(
            f"fold {done}/{len(plans)} (test {who}): {scores}  "
            f"[{_duration(elapsed)} elapsed, ~{_duration(left)} left]"
        )
        result["folds_done"] = done
        if out is not None:  # progress, so that an interrupted run loses no finished fold
            _write_json(Path(out) / "crossval.json", result)
    result["seconds"] = time.perf_counter() - t_start
    result["complete"] = True
    result["best_model"] = best_model(result)
    if out is not None:
        from ser.report import save_crossval_report

        save_crossval_report(out, result)  # the JSON, report and figures, published together
    log("")
    log(table(result))
    return result


def _write_json(path: Path, result: dict) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(result, indent=1) + "\n"))


def best_model(result: dict) -> str | None:
    """The model with the highest mean UAR over its folds."""
    scored = {n: m["uar_mean"] for n, m in result["models"].items() if m["uar_mean"] is not None}
    return max(scored, key=scored.get) if scored else None


def table(result: dict) -> str:
    """The summary table as text: one row per model, then the best model's confusion."""
    rows = ["model                 mean UAR +- sd   pooled UAR   accuracy   macro F1   folds"]
    for name, m in result["models"].items():
        if m["uar_mean"] is None:
            rows.append(f"{name:20s}  failed in every fold")
            continue
        rows.append(
            f"{name:20s}  {m['uar_mean']:.3f} +- {m['uar_sd']:.3f}      {m['uar_pooled']:.3f}"
            f"       {m['accuracy']:.3f}      {m['macro_f1']:.3f}     "
            f"{m['folds_done']}/{len(m['fold_uar'])}"
        )
    for name, m in result["models"].items():
        if m.get("uar_alone_mean") is not None:
            rows.append(
                f"{name} on each test file alone (no speaker statistics, as `ser predict`): "
                f"mean UAR {m['uar_alone_mean']:.3f}"
            )
    best = best_model(result)
    if best is not None:
        confusion = np.array(result["models"][best]["confusion"])
        scores = Scores(result["emotions"], 0, 0, 0, [], confusion, int(confusion.sum()))
        rows += [
            "",
            f"pooled confusion matrix of {best} (rows: true, columns: predicted)",
            scores.table(),
        ]
    return "\n".join(rows)
