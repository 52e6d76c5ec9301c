"""What each ingredient of the real-speech recipe is worth, measured by cross-validation.

Runs ``ser.crossval`` (six folds of four actors, 8 emotions) on the development copy of
RAVDESS in ``../shared/data/ravdess-16k`` (see its README; never needed by the tests) for the
recipe ``cnn1d-spk`` and variants that each take one ingredient away or change one setting,
and prints one table: mean UAR +- sd over the folds, pooled UAR, accuracy, and the
per-speaker-normalised baseline of the same run, with the time of each run. The table in
docs/evaluation.md comes from this script.

    python benchmarks/ravdess_recipes.py                       # every variant (about 1 h)
    python benchmarks/ravdess_recipes.py --variants full no-deltas --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from ser.corpus import load_corpus
from ser.crossval import run_crossval
from ser.recipes import RECIPES

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess-16k"


def _builder(**kwargs):
    from ser.recipes import cnn1d_speaker_bn

    return lambda n, *, input_shape, seed: cnn1d_speaker_bn(
        n, input_shape=input_shape, seed=seed, **kwargs
    )


# The ablations were run on the first version of the recipe (64 filters, the epoch with the
# best validation UAR kept); the two changes they pointed to (96 filters, the last epoch of
# the cosine schedule) made the recipe that ``cnn1d-spk`` is now ("full").
V1 = dataclasses.replace(RECIPES["cnn1d-spk"], builder=_builder(filters=64), early_stopping=True)


def _recipe(name, base=V1, **changes):
    return dataclasses.replace(base.replace(**changes), name=name)


VARIANTS = {
    "full": lambda: RECIPES["cnn1d-spk"],
    "v1": lambda: dataclasses.replace(V1, name="v1"),
    "no-deltas": lambda: _recipe("no-deltas", deltas=0),
    "mfcc-40": lambda: _recipe("mfcc-40", features="mfcc", n_mfcc=40),
    "training-cmvn": lambda: _recipe("training-cmvn", normalisation="training"),
    "utterance-cmvn": lambda: _recipe("utterance-cmvn", normalisation="utterance"),
    "no-speaker-bn": lambda: _recipe("no-speaker-bn", speaker_batches=False, adapt_batchnorm=False),
    "no-trim": lambda: _recipe("no-trim", trim_silence=False),
    "centre-crop": lambda: _recipe("centre-crop", test_crops="centre"),
    "specaugment": lambda: _recipe("specaugment", augment=("specaugment",)),
    "no-early-stop": lambda: _recipe("no-early-stop", early_stopping=False),
    "constant-lr": lambda: _recipe("constant-lr", schedule="constant", epochs=30),
    "dropout-0.3": lambda: dataclasses.replace(
        _recipe("dropout-0.3"), builder=_builder(filters=64, dropout=0.3)
    ),
    "filters-96": lambda: dataclasses.replace(_recipe("filters-96"), builder=_builder(filters=96)),
    "filters-128": lambda: dataclasses.replace(
        _recipe("filters-128"), builder=_builder(filters=128)
    ),
    "epochs-80": lambda: _recipe("epochs-80", epochs=80),
    # waveform copies multiply the training set: the same number of updates as 50 epochs
    "speed": lambda: _recipe("speed", augment=("speed",), epochs=17),
    "noise": lambda: _recipe("noise", augment=("noise",), epochs=25),
    "n_mels-80": lambda: _recipe("n_mels-80", n_mels=80),
    # on the final recipe
    "full-early-stop": lambda: _recipe(
        "full-early-stop", RECIPES["cnn1d-spk"], early_stopping=True
    ),
    "full-speed": lambda: _recipe(
        "full-speed", RECIPES["cnn1d-spk"], augment=("speed",), epochs=17
    ),
    # multi-task learning (S2.5): a gender head, and an adversarial speaker head (DANN)
    "mtl-gender": lambda: RECIPES["cnn1d-spk-mtl"],
    "adv-speaker": lambda: RECIPES["cnn1d-spk-adv"],
    "full-specaugment": lambda: _recipe(
        "full-specaugment", RECIPES["cnn1d-spk"], augment=("specaugment",)
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--split", default="speakers", choices=("speakers", "utterances"))
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data}: no such folder (the development copy of RAVDESS)")
    corpus = load_corpus("ravdess", args.data)
    rows = []
    for variant in args.variants:
        for seed in args.seeds:
            start = time.perf_counter()
            result = run_crossval(
                corpus,
                models=[VARIANTS[variant]()],
                seed=seed,
                split=args.split,
                cache_dir=args.cache,
                log=lambda *a: None,
            )
            seconds = time.perf_counter() - start
            net, base = list(result["models"].values())
            rows.append((variant, seed, net, base, seconds))
            print(
                f"| {variant} | {seed} | {net['uar_mean']:.3f} ± {net['uar_sd']:.3f} "
                f"| {net['uar_pooled']:.3f} | {net['accuracy']:.3f} "
                f"| {base['uar_mean']:.3f} ± {base['uar_sd']:.3f} "
                f"| {net['uar_mean'] - base['uar_mean']:+.3f} | {seconds:.0f} |",
                flush=True,
            )
    print(
        "\n| variant | seed | mean UAR ± sd | pooled UAR | accuracy | baseline UAR ± sd "
        "| network − baseline | seconds |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for variant, seed, net, base, seconds in rows:
        print(
            f"| {variant} | {seed} | {net['uar_mean']:.3f} ± {net['uar_sd']:.3f} "
            f"| {net['uar_pooled']:.3f} | {net['accuracy']:.3f} "
            f"| {base['uar_mean']:.3f} ± {base['uar_sd']:.3f} "
            f"| {net['uar_mean'] - base['uar_mean']:+.3f} | {seconds:.0f} |"
        )


if __name__ == "__main__":
    main()
