"""The ``ser`` command line.

Every command reports a bad input as one line on stderr, ``ser <command>: error: ...``, and
exits with status 2; it never shows a traceback for a user's mistake.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


class UserError(Exception):
    """A mistake in the user's input: reported in one line, exit status 2."""


def _cmd_mfcc(args) -> None:
    import numpy as np

    from features import PRESETS, AudioError, load_audio, mfcc, preset_config

    if args.preset not in PRESETS:
        raise UserError(f"unknown preset {args.preset!r}; choose one of {', '.join(PRESETS)}")
    if (args.file is None) == (not args.synthetic):
        raise UserError("give one audio FILE, or --synthetic for a built-in synthetic utterance")
    if args.synthetic:
        from ser.corpus.synth import synthesize_utterance

        sr = 16000
        y = synthesize_utterance(emotion=args.emotion, seed=args.seed, sr=sr)
        source = f"synthetic {args.emotion} utterance (seed {args.seed})"
    else:
        try:
            y, sr = load_audio(args.file, sr=None)  # the preset is built for the file's rate
        except AudioError as err:
            raise UserError(str(err)) from err
        source = str(args.file)
    config = preset_config(args.preset, sr=sr)
    try:
        feats = mfcc(y, sr=sr, config=config)
    except (AudioError, ValueError) as err:
        raise UserError(f"{source}: {err}") from err
    print(
        f"{source}: {len(y) / sr:.2f} s at {sr} Hz -> MFCC {feats.shape[0]} frames x "
        f"{feats.shape[1]} coefficients (preset {args.preset!r}, float64)"
    )
    print(
        f"  mean per coefficient: {np.array2string(feats.mean(0), precision=1, max_line_width=200)}"
    )
    if args.out:
        from ser.io import save_npy

        print(f"  features -> {save_npy(args.out, feats)}")
    if args.plot:
        from ser.report import save_features_figure

        path = save_features_figure(
            args.plot,
            feats,
            hop_seconds=config.hop_length / sr,
            title=f"MFCC of {Path(source).name if not args.synthetic else source}",
            ylabel="MFCC index",
        )
        print(f"  figure   -> {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ser",
        description="Speech emotion recognition from scratch: MFCC features and hand-written "
        "networks (a course; see README.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("mfcc", help="compute the MFCCs of one audio file")
    p.add_argument("file", nargs="?", type=Path, help="a WAV, FLAC or OGG file")
    p.add_argument("--synthetic", action="store_true", help="use a built-in synthetic utterance")
    p.add_argument("--emotion", default="neutral", help="emotion of the synthetic utterance")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic utterance")
    p.add_argument("--preset", default="default", help="default | librosa | python_speech_features")
    p.add_argument("--out", type=Path, help="save the (frames, coefficients) array as .npy")
    p.add_argument("--plot", type=Path, help="save a figure of the features (.png)")
    p.set_defaults(run=_cmd_mfcc)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except UserError as err:
        print(f"ser {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # python -m ser.cli
    sys.exit(main())
