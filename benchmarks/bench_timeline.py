"""``ser timeline`` on a long recording: time and peak memory, against reading it whole.

    python benchmarks/bench_timeline.py [--minutes 60] [--model MODEL.npz]

Writes a recording of ``--minutes`` of synthetic speech with pauses (16 kHz, 16-bit WAV, in
blocks), then runs in separate processes, one after the other, so that each peak memory is
its own (``ru_maxrss``):

- the project: ``ser.timeline.timeline_of`` (blocks -> incremental features -> windows);
- the baseline: the same windows from the whole file at once (``features.load_audio``, the
  offline features, ``WindowScorer.score`` on every window), as a script would without the
  streaming reader.

Goal (issue 14): a 1-hour 16 kHz file in <= 30 s and <= 500 MB peak on the course's 2-core
machine. Without ``--model`` the document's CNN is trained quickly on the built-in corpus.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 16000

CHILD = r"""
import json, resource, sys, time
import numpy as np
mode, model_path, wav = sys.argv[1:4]
from nn.serialization import load_model
from ser.windows import WindowScorer
scorer = WindowScorer(load_model(model_path))
start = time.perf_counter()
if mode == "timeline":
    from ser.timeline import timeline_of
    n = len(timeline_of(scorer, wav).probs)
else:
    from features import load_audio
    from ser.pipeline import compute_features
    y, _ = load_audio(wav, sr=scorer.config.sample_rate, max_seconds=None)
    frames = {k: compute_features(k, [y], scorer.config)[0] for k in scorer.kinds}
    n = len(scorer.score(scorer.windows_of(frames))[0])
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "windows": n}))
"""


def write_recording(path: Path, minutes: float, seed: int = 0) -> float:
    """Synthetic utterances of the built-in corpus with pauses, written block by block."""
    import soundfile as sf

    from ser.corpus.synth import synthesize_utterance

    rng = np.random.default_rng(seed)
    emotions = ["neutral", "happy", "sad", "angry"]
    clips = [synthesize_utterance(emotion=e, seed=k, sr=SR) for k, e in enumerate(emotions * 4)]
    total = int(minutes * 60 * SR)
    written = 0
    with sf.SoundFile(path, "w", samplerate=SR, channels=1, subtype="PCM_16") as f:
        while written < total:
            clip = clips[int(rng.integers(len(clips)))]
            pause = np.zeros(int(rng.uniform(0.2, 2.0) * SR))
            block = np.concatenate([clip, pause])[: total - written]
            f.write(block)
            written += len(block)
    return written / SR


def run(mode: str, model: Path, wav: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(model), str(wav)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model
        if model is None:
            from ser.demo import run_demo

            run_demo(out=tmp / "demo", log=lambda *_: None, verbose=0)
            model = tmp / "demo" / "model.npz"
        wav = tmp / "long.wav"
        start = time.perf_counter()
        seconds = write_recording(wav, args.minutes)
        print(f"recording: {seconds / 60:.1f} min at {SR} Hz ({time.perf_counter() - start:.0f} s "
              "to write)")  # fmt: skip
        run("timeline", model, wav)  # warm the Numba cache and the page cache once
        rows = [("ser timeline (blocks)", run("timeline", model, wav)),
                ("whole file at once (baseline)", run("whole", model, wav))]  # fmt: skip
    base = rows[1][1]
    print("\n| path | windows | seconds | peak MB | time vs baseline | memory vs baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r['windows']} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | "
            f"{r['seconds'] / base['seconds']:.2f}x | {r['peak_mb'] / base['peak_mb']:.2f}x |"
        )
    print(f"\nreal-time factor of the timeline: {rows[0][1]['seconds'] / seconds:.4f}")


if __name__ == "__main__":
    main()
