"""``ser stream``'s recogniser on one core: real-time factor and latency, against offline.

    python benchmarks/bench_stream.py [--seconds 60] [--chunk-ms 10] [--hop S] [--model M.npz]

Feeds ``--seconds`` of synthetic speech with pauses (16 kHz) to ``ser.stream.StreamRecognizer``
in chunks of ``--chunk-ms``, as a sound card delivers them, and times every push. The audio
is not slept through: chunk k "arrives" at audio time t_k = (end sample of the chunk) / sr,
its processing starts at max(t_k, the end of the previous push) and takes the measured time,
which is what a live run would see as long as the recogniser keeps up (real-time factor < 1).
Printed, in two markdown tables:

- the real-time factor (processing time / audio time) of the stream and of the baseline
  timed in the same run: the offline path (the features of the whole signal at once, then
  ``WindowScorer.score`` on every window, as ``ser timeline`` does), and their ratio;
- the latency: per prediction, from the arrival of its window's newest sample to the
  prediction (the decision latency: chunking + compute), and the worst over all samples of
  the time from a sample's arrival to the first prediction that includes it.

Goals (issue 14): real-time factor <= 0.05 on one core; worst latency <= window + hop +
50 ms. The process is pinned to one CPU (``os.sched_setaffinity``) and every thread pool is
set to one thread. Without ``--model`` a demo model (``ser.demo.run_demo``, the document's
CNN) is trained quickly: the speed does not depend on how well it is trained.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # before NumPy and Numba start their pools

import argparse  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from timing import median_time  # noqa: E402  (benchmarks/timing.py, beside this script)

SR = 16000


def one_core() -> str:
    """Pin this process to one CPU, where the system allows it; say which."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return f"pinned to CPU {core}"


def recording(seconds: float, seed: int = 0) -> np.ndarray:
    """Synthetic utterances of the built-in corpus with pauses of 0.2 .. 2 s."""
    from ser.corpus.synth import synthesize_utterance

    rng = np.random.default_rng(seed)
    emotions = ["neutral", "happy", "sad", "angry"]
    clips = [synthesize_utterance(emotion=e, seed=k, sr=SR) for k, e in enumerate(emotions * 2)]
    parts, total = [], int(seconds * SR)
    while sum(len(p) for p in parts) < total:
        parts.append(clips[int(rng.integers(len(clips)))])
        parts.append(np.zeros(int(rng.uniform(0.2, 2.0) * SR)))
    return np.concatenate(parts)[:total]


def demo_model(folder: Path) -> Path:
    from ser.demo import run_demo

    options = {"n_speakers": 4, "n_utterances": 2}  # quick: the speed is what is measured
    run_demo(out=folder, epochs=1, corpus_options=options, verbose=0, log=lambda *_: None)
    return folder / "model.npz"


def stream_run(scorer, y: np.ndarray, chunk: int) -> dict:
    """Feed ``y`` in chunks on a simulated real-time clock; times and latencies."""
    from ser.stream import StreamRecognizer

    rec = StreamRecognizer(scorer)
    c = scorer.config
    pad = c.win_length // 2 if c.center else 0
    busy, done = 0.0, 0.0  # processing time so far; when the previous push ended (audio clock)
    decision, worst, covered = [], 0.0, 0  # covered: samples some prediction already includes
    probs = []
    for lo in range(0, len(y), chunk):
        hi = min(len(y), lo + chunk)
        arrival = hi / SR  # a chunk is there when its last sample is
        start = time.perf_counter()
        new = rec.push(y[lo:hi])
        spent = time.perf_counter() - start
        busy += spent
        done = max(arrival, done) + spent
        for p in new:
            probs.append(p.probabilities)
            first = p.index * scorer.hop_frames * c.hop_length - pad  # window's first sample
            last = (p.index * scorer.hop_frames + scorer.window_frames - 1) * c.hop_length
            last += c.win_length - 1 - pad  # its newest sample
            decision.append(done - (last + 1) / SR)
            fresh = max(covered, first)  # the oldest sample no earlier prediction included
            worst = max(worst, done - (fresh + 1) / SR)
            covered = last + 1
    start = time.perf_counter()
    for p in rec.finish():
        probs.append(p.probabilities)
    busy += time.perf_counter() - start
    return {"busy": busy, "probs": np.array(probs), "decision": np.array(decision),
            "worst": worst, "windows": rec.windows}  # fmt: skip


def offline_run(scorer, y: np.ndarray):
    from ser.pipeline import compute_features

    frames = {k: compute_features(k, [y], scorer.config)[0] for k in scorer.kinds}
    return scorer.score(scorer.windows_of(frames))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio fed to the stream")
    parser.add_argument("--chunk-ms", type=float, default=10.0, help="ms of audio per push")
    parser.add_argument("--window", type=float, help="seconds (default: the model's input)")
    parser.add_argument("--hop", type=float, help="seconds (default: half a window)")
    parser.add_argument("--model", type=Path, help="a saved model (default: a quick demo one)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the offline baseline")
    args = parser.parse_args()
    pinned = one_core()

    from nn.serialization import load_model
    from ser.windows import WindowScorer

    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or demo_model(Path(tmp) / "demo")
        scorer = WindowScorer(load_model(path), window_s=args.window, hop_s=args.hop)
    y = recording(args.seconds)
    seconds = len(y) / SR
    chunk = max(1, int(round(args.chunk_ms / 1000 * SR)))
    stream_run(scorer, y[: 3 * SR], chunk)  # warm-up: compilation, first allocations
    s = stream_run(scorer, y, chunk)
    t_off = median_time(lambda: offline_run(scorer, y), args.repeats)
    agree = float(np.max(np.abs(s["probs"] - offline_run(scorer, y)))) if s["windows"] else 0.0

    w, h = scorer.window_seconds, scorer.hop_seconds
    print(f"{platform.processor() or platform.machine()}, {pinned}; {seconds:.1f} s of audio, "
          f"chunks of {chunk} samples ({1000 * chunk / SR:g} ms), windows of {w:.2f} s every "
          f"{h:.2f} s, {s['windows']} windows; max|p_stream - p_offline| {agree:.1e}")  # fmt: skip
    print("\n| path | processing s | real-time factor | vs offline | goal |")
    print("|---|---:|---:|---:|---|")
    print(f"| stream ({1000 * chunk / SR:g} ms chunks) | {s['busy']:.3f} | "
          f"{s['busy'] / seconds:.4f} | {s['busy'] / t_off:.2f}x | <= 0.05 |")  # fmt: skip
    print(f"| offline, whole signal (baseline) | {t_off:.3f} | {t_off / seconds:.4f} | 1.00x | |")
    d = s["decision"] if len(s["decision"]) else np.zeros(1)
    goal = w + h + 0.050
    print("\n| latency | median ms | max ms | goal |")
    print("|---|---:|---:|---|")
    print(f"| newest sample of a window -> its prediction | {1000 * np.median(d):.1f} | "
          f"{1000 * d.max():.1f} | |")  # fmt: skip
    print(f"| any sample -> the first prediction with it | | {1000 * s['worst']:.1f} | "
          f"<= {1000 * goal:.0f} (window + hop + 50 ms) |")  # fmt: skip


if __name__ == "__main__":
    main()
