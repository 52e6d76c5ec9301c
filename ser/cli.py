"""The ``ser`` command line.

Every command reports a bad input as one line on stderr, ``ser <command>: error: ...``, and
exits with status 2; it never shows a traceback for a user's mistake.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ser.progress import progress_printer  # no numpy behind it: the CLI still starts fast

# the keys of ser.recipes.RECIPES, written out so that building the parser imports no Numba
# (tests/ser/test_cli_models.py checks that the two agree)
MODELS = ("cnn", "lstm", "gru", "seed-rnn", "bilstm-attention", "cnn1d-spk")
FEATURES = ("mfcc", "logmel")
AUGMENTATIONS = ("specaugment", "speed", "noise")  # ser.recipes.AUGMENTATIONS, as MODELS

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


def _cmd_synth(args) -> None:
    import time

    from ser.corpus.synth import EMOTIONS, synthetic_corpus, write_synthetic_corpus

    unknown = [e for e in args.emotions if e not in EMOTIONS]
    if unknown:
        raise UserError(
            f"unknown emotion(s) {', '.join(unknown)}; choose from {', '.join(EMOTIONS)}"
        )
    if min(args.speakers, args.utterances) < 1:
        raise UserError("--speakers and --utterances must be at least 1")
    corpus = synthetic_corpus(
        emotions=args.emotions,
        n_speakers=args.speakers,
        n_utterances=args.utterances,
        seed=args.seed,
        snr_db=args.snr,
    )
    start = time.perf_counter()
    manifest = write_synthetic_corpus(
        corpus, args.out, sr=args.sr, progress=progress_printer(f"writing {len(corpus)} utterances")
    )
    print(corpus.summary())
    print(f"  wrote {len(corpus)} WAV files and {manifest} in {time.perf_counter() - start:.1f} s")
    print(f"  read it back with: load_corpus('synthetic', {str(args.out)!r})")


def _cmd_corpus(args) -> None:
    from ser.corpus import load_corpus

    try:
        corpus = load_corpus(args.name, args.root)
    except (ValueError, FileNotFoundError) as err:
        raise UserError(str(err)) from err
    print(corpus.summary(max_skipped=args.show_skipped))


def _cmd_demo(args) -> None:
    from ser.demo import run_demo

    if (args.data is None) != (args.corpus is None):
        raise UserError("--data and --corpus go together (a folder and its corpus name)")
    try:
        run_demo(
            out=args.out,
            emotions=args.emotions,
            seed=args.seed,
            data=args.data,
            corpus_name=args.corpus,
            cache_dir=args.cache,
            verbose=1,
            model=_recipe(args),
        )
    except (ValueError, FileNotFoundError) as err:
        raise UserError(str(err)) from err


def _cmd_train(args) -> None:
    from ser.corpus import load_corpus
    from ser.experiment import train

    try:
        corpus = load_corpus(args.corpus, args.data)
        run = train(
            corpus,
            labels=args.emotions,
            recipe=_recipe(args),
            seed=args.seed,
            cache_dir=args.cache,
        )
    except (ValueError, FileNotFoundError) as err:
        raise UserError(str(err)) from err
    path = run.model.save(args.out)
    s = run.test_scores
    print(
        f"test speakers {', '.join(run.split.speakers['test'])}: accuracy {s.accuracy:.3f}, "
        f"UAR {s.uar:.3f}, macro F1 {s.macro_f1:.3f}\nmodel -> {path}"
    )


def _overrides(args) -> dict:
    """The training and feature settings given on the command line (None: the recipe's)."""
    return {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "features": args.features,
        "augment": None if args.augment is None else tuple(a for a in args.augment if a != "none"),
        "n_mfcc": args.n_mfcc,
        "n_mels": args.n_mels,
        "hop_length": args.hop_length,
        "win_length": args.win_length,
        "n_fft": _n_fft(args.win_length),
    }


def _n_fft(win_length):
    """The FFT length for a window: the next power of two (512 for the default 400)."""
    if win_length is None or win_length < 1:
        return None
    return 1 << (int(win_length) - 1).bit_length()


def _recipe(args, name=None):
    from features import MFCCConfig
    from ser.recipes import get

    try:
        recipe = get(name or args.model).replace(**_overrides(args))
        MFCCConfig(**recipe.feature_config)  # a bad --n-mels or --hop-length fails here
    except (ValueError, TypeError) as err:
        raise UserError(str(err)) from err
    return recipe


def _cmd_crossval(args) -> int:
    from ser.corpus import load_corpus
    from ser.crossval import DEFAULT_MODEL, run_crossval
    from ser.report import save_crossval_report

    if (args.data is None) != (args.corpus is None):
        raise UserError("--data and --corpus go together (a folder and its corpus name)")
    if args.loso and args.folds is not None:
        raise UserError("give --folds K or --loso, not both")
    models = args.model or [DEFAULT_MODEL]
    for name in models:
        if name != "baseline":
            _recipe(args, name)  # every setting checked before anything runs
    try:
        if args.data is None:
            options = {"seed": args.seed}
            if args.emotions:
                options["emotions"] = tuple(args.emotions)
            corpus = load_corpus("synthetic", **options)
        else:
            corpus = load_corpus(args.corpus, args.data)
        result = run_crossval(
            corpus,
            models=models,
            labels=args.emotions,
            k=None if args.loso else (args.folds or 6),
            loso=args.loso,
            seed=args.seed,
            split=args.split,
            overrides=_overrides(args),
            cache_dir=args.cache,
            out=args.out,
            log=print,
        )
    except (ValueError, FileNotFoundError) as err:
        raise UserError(str(err)) from err
    report = save_crossval_report(args.out, result)
    print(f"wrote {report}, {args.out / 'crossval.json'} and the figures")
    for failure in result["failures"]:
        print(
            f"ser crossval: error: fold {failure['fold']}, {failure['model']}: {failure['error']}",
            file=sys.stderr,
        )
    return 2 if result["failures"] else 0


def _load(path):
    from nn.serialization import ModelFileError, load_model

    try:
        return load_model(path)
    except ModelFileError as err:
        raise UserError(str(err)) from err


def _cmd_evaluate(args) -> None:
    from ser.corpus import load_corpus
    from ser.experiment import evaluate

    model = _load(args.model)
    try:
        corpus = load_corpus(args.corpus, args.data)
        if args.speakers:
            corpus = corpus.select(speakers=args.speakers)
        scores = evaluate(model, corpus, cache_dir=args.cache)
    except (ValueError, FileNotFoundError) as err:
        raise UserError(str(err)) from err
    print(
        f"{scores.n} utterances: accuracy {scores.accuracy:.3f}, UAR {scores.uar:.3f}, "
        f"macro F1 {scores.macro_f1:.3f}"
    )
    print(scores.table())


def _cmd_predict(args) -> int:
    from ser.experiment import predict_files

    model = _load(args.model)
    labels = model.metadata["labels"]
    failed = 0
    for path, probs, error in predict_files(model, args.files):
        if error:
            failed += 1
            print(f"ser predict: error: {error}", file=sys.stderr)
            continue
        ranked = ", ".join(f"{lab} {p:.2f}" for lab, p in zip(labels, probs, strict=True))
        print(f"{path}: {labels[int(probs.argmax())]}  ({ranked})")
    return 2 if failed else 0


def _training_options(p) -> None:
    """What a user tunes: training and feature settings (librosa's names); each defaults to
    the recipe's own."""
    p.add_argument("--epochs", type=int, help="training epochs (default: the recipe's)")
    p.add_argument("--batch-size", type=int, metavar="N")
    p.add_argument("--lr", type=float, metavar="RATE", help="Adam's learning rate")
    p.add_argument("--features", choices=FEATURES, help="the network's input features")
    p.add_argument(
        "--augment",
        nargs="+",
        choices=(*AUGMENTATIONS, "none"),
        metavar="KIND",
        help="training augmentation: specaugment (masks), speed (0.9x and 1.1x copies), noise "
        "(a copy at 10-30 dB SNR), or none",
    )
    p.add_argument("--n-mfcc", type=int, metavar="N")
    p.add_argument("--n-mels", type=int, metavar="N")
    p.add_argument("--hop-length", type=int, metavar="SAMPLES")
    p.add_argument("--win-length", type=int, metavar="SAMPLES")


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

    from ser.corpus.synth import DEFAULT_EMOTIONS

    p = commands.add_parser("synth", help="write the built-in synthetic corpus as WAV files")
    p.add_argument("--out", type=Path, required=True, help="folder for the WAVs and manifest.csv")
    p.add_argument("--emotions", nargs="+", default=list(DEFAULT_EMOTIONS), metavar="EMOTION")
    p.add_argument("--speakers", type=int, default=10)
    p.add_argument("--utterances", type=int, default=20, help="per speaker and emotion")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--snr", type=float, help="add white noise at this SNR in dB")
    p.add_argument("--sr", type=int, default=16000, help="sample rate of the files, Hz")
    p.set_defaults(run=_cmd_synth)

    p = commands.add_parser("corpus", help="summarise a corpus and list the files it skipped")
    p.add_argument("name", help="ravdess | crema-d | tess | emodb | synthetic")
    p.add_argument("root", nargs="?", type=Path, help="the folder (none: built-in synthetic)")
    p.add_argument("--show-skipped", type=int, default=20, metavar="N")
    p.set_defaults(run=_cmd_corpus)

    from ser.demo import DEMO_EMOTIONS

    p = commands.add_parser(
        "demo", help="the main job: synthesise, train the document's CNN, report"
    )
    p.add_argument(
        "--out", type=Path, default=Path("ser_output"), help="folder for model, report, figures"
    )
    p.add_argument("--emotions", nargs="+", default=list(DEMO_EMOTIONS), metavar="EMOTION")
    p.add_argument(
        "--model", default="cnn", choices=MODELS, help="the recipe (default: the document's CNN)"
    )
    _training_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, help="a real corpus's folder instead of the synthetic one")
    p.add_argument("--corpus", help="its name: ravdess | crema-d | tess | emodb | synthetic")
    p.add_argument("--cache", type=Path, help="feature cache folder (default ~/.cache/ser-course)")
    p.set_defaults(run=_cmd_demo)

    p = commands.add_parser("train", help="train the document's CNN on a corpus and save it")
    p.add_argument("--data", type=Path, help="corpus folder (none: the built-in synthetic corpus)")
    p.add_argument("--corpus", default="synthetic")
    p.add_argument("--emotions", nargs="+", default=list(DEMO_EMOTIONS), metavar="EMOTION")
    p.add_argument("--model", default="cnn", choices=MODELS, help="the recipe")
    _training_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("model.npz"))
    p.add_argument("--cache", type=Path)
    p.set_defaults(run=_cmd_train)

    p = commands.add_parser(
        "crossval", help="cross-validation by speaker: every model and the baseline, same folds"
    )
    p.add_argument("--data", type=Path, help="corpus folder (none: the built-in synthetic corpus)")
    p.add_argument("--corpus", help="its name: ravdess | crema-d | tess | emodb | synthetic")
    p.add_argument("--folds", type=int, metavar="K", help="folds of speakers (default 6)")
    p.add_argument("--loso", action="store_true", help="leave one speaker out: a fold each")
    p.add_argument(
        "--model",
        nargs="+",
        action="extend",
        choices=(*MODELS, "baseline"),
        help="recipes to cross-validate side by side (default cnn1d-spk); the "
        "baseline is always added",
    )
    p.add_argument("--emotions", nargs="+", metavar="EMOTION", help="default: every emotion")
    _training_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--split",
        choices=("speakers", "utterances"),
        default="speakers",
        help="'utterances': random folds of utterances, speakers in train and test alike (only "
        "to measure how much that inflates the scores)",
    )
    p.add_argument("--out", type=Path, default=Path("crossval_output"))
    p.add_argument("--cache", type=Path)
    p.set_defaults(run=_cmd_crossval)

    p = commands.add_parser("evaluate", help="score a saved model on a corpus")
    p.add_argument("model", type=Path)
    p.add_argument("--data", type=Path, help="corpus folder (none: the built-in synthetic corpus)")
    p.add_argument("--corpus", default="synthetic")
    p.add_argument(
        "--speakers", nargs="+", help="only these speakers (e.g. the model's test speakers)"
    )
    p.add_argument("--cache", type=Path)
    p.set_defaults(run=_cmd_evaluate)

    p = commands.add_parser("predict", help="the emotion of audio files, with class probabilities")
    p.add_argument("model", type=Path)
    p.add_argument("files", nargs="+", type=Path)
    p.set_defaults(run=_cmd_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.run(args)
    except UserError as err:
        print(f"ser {args.command}: error: {err}", file=sys.stderr)
        return 2
    return int(status or 0)


if __name__ == "__main__":  # python -m ser.cli
    sys.exit(main())
