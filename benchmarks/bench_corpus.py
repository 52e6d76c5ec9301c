"""The built-in corpus: how long it takes to synthesise, and how far apart its emotions are.

    python benchmarks/bench_corpus.py [--variation 0.25] [--speakers 10] [--utterances 20]

1. Synthesis time of the default corpus (4 emotions x 10 speakers x 20 utterances), in CPU
   seconds and wall seconds of this one process (equal when one core does all the work).
   Goal: under 15 s on one core.
2. A baseline the networks must beat: utterance-level MFCC statistics (mean and std of 13
   MFCCs and their deltas) and softmax regression, scored speaker-independently
   (leave-one-speaker-out over all speakers), and, to show why that matters, on a random
   utterance split where every test speaker was also heard in training.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from features import mfcc_batch
from nn.metrics import accuracy, uar
from ser.baseline import SoftmaxRegression, utterance_statistics
from ser.corpus import leave_one_speaker_out, synthetic_corpus


def scores(corpus, stats, labels, *, speaker_independent: bool, seed: int = 0):
    y = np.array([labels.index(u.emotion) for u in corpus])
    index = {id(u): i for i, u in enumerate(corpus)}
    predictions = np.empty_like(y)
    if speaker_independent:
        folds = [
            ([index[id(u)] for u in train], [index[id(u)] for u in test])
            for _, train, test in leave_one_speaker_out(corpus)
        ]
    else:  # random utterance folds of the same size: speakers leak between train and test
        order = np.random.default_rng(seed).permutation(len(corpus))
        folds = [
            (np.setdiff1d(order, part), part)
            for part in np.array_split(order, len(corpus.speakers))
        ]
    for train, test in folds:
        model = SoftmaxRegression().fit(stats[train], y[train], n_classes=len(labels))
        predictions[test] = model.predict(stats[test])
    return accuracy(y, predictions), uar(y, predictions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variation", type=float, default=None, help="default: the corpus's")
    parser.add_argument(
        "--style", type=float, default=None, help="speaker_style; default: the corpus's"
    )
    parser.add_argument("--speakers", type=int, default=10)
    parser.add_argument("--utterances", type=int, default=20)
    args = parser.parse_args()
    options = {} if args.variation is None else {"variation": args.variation}
    if args.style is not None:
        options["speaker_style"] = args.style

    # 1. synthesis time (one warm-up utterance first, so Numba's compile is not counted twice)
    synthetic_corpus(n_speakers=1, n_utterances=1)[0].audio()
    corpus = synthetic_corpus(n_speakers=args.speakers, n_utterances=args.utterances, **options)
    cpu, wall = time.process_time(), time.perf_counter()
    signals = [u.audio() for u in corpus]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    seconds = np.array([len(y) for y in signals]) / 16000
    print(f"# Built-in corpus: {corpus.summary().splitlines()[0]}")
    print(f"  emotions: {', '.join(corpus.emotions)}")
    print(f"  audio: {seconds.sum() / 60:.1f} min, utterances {seconds.min():.2f}-"
          f"{seconds.max():.2f} s (median {np.median(seconds):.2f} s)")  # fmt: skip
    print(f"  synthesis: {cpu:.1f} s CPU, {wall:.1f} s wall (goal: < 15 s on one core)\n")

    # 2. how far apart the emotions are
    feats = mfcc_batch(signals, sr=16000)
    stats = np.stack([utterance_statistics(f) for f in feats])
    print("| classes | split | accuracy | UAR | chance |")
    print("|---|---|---:|---:|---:|")
    subsets = [
        corpus.emotions,
        ["neutral", "sad", "angry"],
        ["neutral", "happy", "sad"],
        ["happy", "sad", "angry"],
    ]
    for labels in subsets:
        keep = np.array([u.emotion in labels for u in corpus])
        sub = corpus.select(emotions=labels)
        for independent in (True, False):
            acc, u = scores(sub, stats[keep], labels, speaker_independent=independent)
            split = "by speaker (LOSO)" if independent else "random utterances"
            print(
                f"| {', '.join(labels)} | {split} | {acc:.3f} | {u:.3f} | {1 / len(labels):.3f} |"
            )


if __name__ == "__main__":
    main()
