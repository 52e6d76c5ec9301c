"""MFCC speed, measured against baselines timed in the same run.

    python benchmarks/bench_features.py [--repeats 7]

Prints one markdown table. Every row compares the project with a baseline on the same input
in the same process, so the ratio means something on any machine; the absolute times are
given only to read the ratio with. Goals (issue 2): with the "librosa" preset and the same
output, at least 2x faster than librosa.feature.mfcc on one 60 s clip and 4x on 100 clips of
3 s. librosa and python_speech_features are optional: their rows are skipped with a note when
they are not installed (pip install librosa python_speech_features).

Input: the course's synthetic voice at 16 kHz (no download).
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
from timing import median_time  # benchmarks/timing.py, beside this script

import features as F
from ser.corpus.synth import synthesize_utterance

SR = 16000


def max_abs_diff(a, b) -> float:
    if isinstance(a, list):
        return max(max_abs_diff(x, y) for x, y in zip(a, b, strict=True))
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def max_rel_diff(a, b) -> float:
    if isinstance(a, list):
        return max(max_rel_diff(x, y) for x, y in zip(a, b, strict=True))
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    r = args.repeats

    long_clip = np.concatenate([synthesize_utterance(seed=i, duration=3.0) for i in range(20)])
    clips = [synthesize_utterance(seed=100 + i, duration=3.0) for i in range(100)]
    rows = []  # (workload, project, baseline, t_project, t_baseline, agreement)

    def row(workload, name, fn, base_name, base_fn, agreement):
        t_mine = median_time(fn, r)
        t_base = median_time(base_fn, r)
        rows.append((workload, name, base_name, t_mine, t_base, agreement))

    # --- the project's own twins: the fast path against the readable reference -------------
    mine = F.mfcc(long_clip, sr=SR)
    readable, _ = F.mfcc(long_clip, sr=SR, return_steps=True)
    row(
        "60 s, default preset",
        "mfcc (blocked, 2 threads)",
        lambda: F.mfcc(long_clip, sr=SR),
        "mfcc(return_steps=True) (readable)",
        lambda: F.mfcc(long_clip, sr=SR, return_steps=True),
        f"max|diff| {max_abs_diff(mine, readable):.1e}",
    )
    frames = np.random.default_rng(0).standard_normal((32, 2048))
    row(
        "32 x 2048-point FFT",
        "fft_radix2 (Numba teaching twin)",
        lambda: F.fft_radix2(frames),
        "dft (O(N^2) matrix)",
        lambda: F.dft(frames),
        f"max|diff| {max_abs_diff(F.fft_radix2(frames), F.dft(frames)):.1e}",
    )
    row(
        "32 x 2048-point FFT",
        "fft_radix2 (Numba teaching twin)",
        lambda: F.fft_radix2(frames),
        "numpy.fft.fft",
        lambda: np.fft.fft(frames),
        f"max|diff| {max_abs_diff(F.fft_radix2(frames), np.fft.fft(frames)):.1e}",
    )

    notes = []
    try:
        import librosa
    except ImportError:
        notes.append("librosa is not installed: its rows are skipped")
    else:
        ref = librosa.feature.mfcc(y=long_clip, sr=SR).T
        row(
            "60 s clip",
            "mfcc(preset='librosa')",
            lambda: F.mfcc(long_clip, sr=SR, preset="librosa"),
            f"librosa {librosa.__version__} feature.mfcc",
            lambda: librosa.feature.mfcc(y=long_clip, sr=SR),
            f"max|diff| {max_abs_diff(F.mfcc(long_clip, sr=SR, preset='librosa'), ref):.1e}",
        )
        refs = [librosa.feature.mfcc(y=c, sr=SR).T for c in clips]
        row(
            "100 x 3 s clips",
            "mfcc_batch(preset='librosa')",
            lambda: F.mfcc_batch(clips, sr=SR, preset="librosa"),
            "librosa feature.mfcc, a loop",
            lambda: [librosa.feature.mfcc(y=c, sr=SR) for c in clips],
            f"max|diff| {max_abs_diff(F.mfcc_batch(clips, sr=SR, preset='librosa'), refs):.1e}",
        )
        row(
            "100 x 3 s clips",
            "mfcc(preset='librosa'), a loop",
            lambda: [F.mfcc(c, sr=SR, preset="librosa") for c in clips],
            "librosa feature.mfcc, a loop",
            lambda: [librosa.feature.mfcc(y=c, sr=SR) for c in clips],
            "same as above",
        )
    try:
        import python_speech_features as psf
    except ImportError:
        notes.append("python_speech_features is not installed: its rows are skipped")
    else:
        preset = "python_speech_features"
        ref = psf.mfcc(long_clip, samplerate=SR)
        row(
            "60 s clip",
            f"mfcc(preset='{preset}')",
            lambda: F.mfcc(long_clip, sr=SR, preset=preset),
            "python_speech_features.mfcc",
            lambda: psf.mfcc(long_clip, samplerate=SR),
            f"max rel {max_rel_diff(F.mfcc(long_clip, sr=SR, preset=preset), ref):.1e}",
        )
        refs = [psf.mfcc(c, samplerate=SR) for c in clips]
        row(
            "100 x 3 s clips",
            f"mfcc_batch(preset='{preset}')",
            lambda: F.mfcc_batch(clips, sr=SR, preset=preset),
            "python_speech_features.mfcc, a loop",
            lambda: [psf.mfcc(c, samplerate=SR) for c in clips],
            f"max rel {max_rel_diff(F.mfcc_batch(clips, sr=SR, preset=preset), refs):.1e}",
        )

    print(
        f"# MFCC benchmark: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, numpy {np.__version__}, median of {r} runs\n"
    )
    print("| workload | project | baseline | project ms | baseline ms | speed-up | agreement |")
    print("|---|---|---|---:|---:|---:|---|")
    for workload, name, base, t_mine, t_base, agreement in rows:
        print(
            f"| {workload} | {name} | {base} | {1e3 * t_mine:.1f} | {1e3 * t_base:.1f} "
            f"| {t_base / t_mine:.2f}x | {agreement} |"
        )
    for note in notes:
        print(f"\nNote: {note}.")
    print("\nGoals: 60 s clip >= 2x librosa, 100 x 3 s >= 4x librosa (librosa preset).")


if __name__ == "__main__":
    main()
