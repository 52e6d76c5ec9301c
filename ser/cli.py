"""The ``ser`` command line.

One error boundary, in ``main`` (docs/reliability.md, "The command line"):

- a mistake a user can make (a bad option, a bad file, a model file that is not one, a full
  disk, a folder that cannot be written) is one line on stderr,
  ``ser <command>: error: <what and where>``, and exit status 2; options are checked where
  they are parsed, before any work is done;
- Ctrl-C is one line, ``ser <command>: interrupted``, and exit status 130;
- output piped into a reader that stops early (``ser predict ... | head -1``) ends quietly
  with exit status 141, as a tool killed by SIGPIPE would (coreutils);
- anything else is a bug in ``ser``: one line that says so and asks for a report, exit
  status 1; ``ser --debug <command> ...`` adds the traceback (to every error).

Output is printed whatever the terminal's encoding (``PYTHONIOENCODING=ascii``, file names
that are not UTF-8): what cannot be encoded is shown as a backslash escape.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path

from ser.progress import progress_printer  # no numpy behind it: the CLI still starts fast

# the keys of ser.recipes.RECIPES, written out so that building the parser imports no Numba
# (tests/ser/test_cli_models.py checks that the two agree)
MODELS = (
    "cnn",
    "lstm",
    "gru",
    "seed-rnn",
    "bilstm-attention",
    "cnn1d-spk",
    "cnn1d-spk-mtl",
    "cnn1d-spk-adv",
)
FEATURES = ("mfcc", "logmel")
AUGMENTATIONS = ("specaugment", "speed", "noise")  # ser.recipes.AUGMENTATIONS, as MODELS
MIN_SR, MAX_SR = 1000, 768000  # the sample rates ser synth writes (features.audio reads)

EXIT_USER, EXIT_BUG, EXIT_INTERRUPTED, EXIT_PIPE = 2, 1, 130, 141

__all__ = ["main", "build_parser", "UserError"]


class UserError(Exception):
    """A mistake in the user's input: reported in one line, exit status 2."""


def _show(path) -> str:
    """A path to print (undecodable bytes of a name as escapes, never an encoding error)."""
    from ser.io import display_path

    return display_path(path)


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
        source = _show(args.file)
    try:
        config = preset_config(args.preset, sr=sr)
    except ValueError as err:  # e.g. psf's fixed n_fft 512 is shorter than 25 ms at 44.1 kHz
        hint = "" if args.preset == "default" else "; the default preset fits its FFT to any rate"
        raise UserError(
            f"{source}: the {args.preset!r} preset cannot analyse {sr} Hz audio: {err}{hint}"
        ) from err
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

        print(f"  features -> {_show(save_npy(args.out, feats))}")
    if args.plot:
        from ser.report import save_features_figure

        path = save_features_figure(
            args.plot,
            feats,
            hop_seconds=config.hop_length / sr,
            title=f"MFCC of {Path(source).name if not args.synthetic else source}",
            ylabel="MFCC index",
        )
        print(f"  figure   -> {_show(path)}")


def _cmd_synth(args) -> None:
    import time

    from ser.corpus.synth import synthetic_utterances, write_synthetic_corpus

    total = args.speakers * len(args.emotions) * args.utterances
    utterances = synthetic_utterances(  # streamed: each file is written as it is made
        emotions=args.emotions,
        n_speakers=args.speakers,
        n_utterances=args.utterances,
        seed=args.seed,
        snr_db=args.snr,
    )
    start = time.perf_counter()
    manifest = write_synthetic_corpus(
        utterances,
        args.out,
        sr=args.sr,
        total=total,
        progress=progress_printer(f"writing {total} utterances"),
    )
    from ser.corpus.records import LABELS

    each = args.speakers * args.utterances
    print(f"synthetic: {total} utterances, {args.speakers} speakers")
    print("  " + ", ".join(f"{e} {each}" for e in LABELS if e in args.emotions))
    print(f"  wrote {total} WAV files and {_show(manifest)} in {time.perf_counter() - start:.1f} s")
    print(f"  read it back with: load_corpus('synthetic', {_show(args.out)!r})")


def _cmd_corpus(args) -> None:
    from ser.corpus import load_corpus

    try:
        corpus = load_corpus(args.name, args.root)
    except (ValueError, FileNotFoundError) as err:
        raise UserError(str(err)) from err
    print(corpus.summary(max_skipped=args.show_skipped))


def _synthetic_options(args) -> dict:
    """``load_corpus("synthetic", ...)`` options for the built-in corpus, as ``ser demo``
    uses it: the chosen emotions (fearful too), the seed, and a size when one was given."""
    from ser.corpus.synth import EMOTIONS

    missing = [e for e in args.emotions if e not in EMOTIONS]
    if missing:
        raise UserError(
            f"the built-in synthetic corpus has no {', '.join(missing)}; it has "
            f"{', '.join(EMOTIONS)} (give --data DIR --corpus NAME for a real corpus)"
        )
    options = {"emotions": tuple(args.emotions), "seed": args.seed}
    if getattr(args, "speakers", None) is not None:
        options["n_speakers"] = args.speakers
    if getattr(args, "utterances", None) is not None:
        options["n_utterances"] = args.utterances
    return options


def _cmd_demo(args) -> None:
    from ser.demo import run_demo

    if (args.data is None) != (args.corpus is None):
        raise UserError("--data and --corpus go together (a folder and its corpus name)")
    if args.data is not None and (args.speakers or args.utterances):
        raise UserError("--speakers and --utterances size the built-in corpus; not with --data")
    options = None
    if args.data is None:
        options = _synthetic_options(args)
        options = {k: v for k, v in options.items() if k not in ("emotions", "seed")}
    run_demo(  # what can go wrong is a ValueError or an OSError: main reports it in one line
        out=args.out,
        emotions=args.emotions,
        seed=args.seed,
        data=args.data,
        corpus_name=args.corpus,
        cache_dir=args.cache,
        verbose=1,
        model=_recipe(args),
        corpus_options=options,
    )


def _cmd_train(args) -> None:
    from ser.corpus import load_corpus
    from ser.experiment import train

    out = args.out if args.out.suffix == ".npz" else args.out.with_suffix(args.out.suffix + ".npz")
    recipe = _recipe(args)
    if args.data is None and args.corpus.lower() == "synthetic":  # as ser demo reads it
        corpus = load_corpus("synthetic", **_synthetic_options(args))
    else:
        corpus = load_corpus(args.corpus, args.data)
    run = train(corpus, labels=args.emotions, recipe=recipe, seed=args.seed, cache_dir=args.cache)
    path = _save_model(run.model, out)
    s = run.test_scores
    print(
        f"test speakers {', '.join(run.split.speakers['test'])}: accuracy {s.accuracy:.3f}, "
        f"UAR {s.uar:.3f}, macro F1 {s.macro_f1:.3f}\nmodel -> {_show(path)}"
    )


def _save_model(model, out: Path) -> Path:
    """Save a trained model atomically; if ``out`` cannot take it, keep it in the system's
    temporary folder and say where (``ser.io.save_model_or_keep``)."""
    from ser.io import save_model_or_keep

    out = out if out.suffix == ".npz" else out.with_suffix(out.suffix + ".npz")
    return save_model_or_keep(model, out)


def _overrides(args) -> dict:
    """The training and feature settings given on the command line (None: the recipe's)."""
    return {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "features": args.features,
        "augment": None if args.augment is None else tuple(a for a in args.augment if a != "none"),
        "early_stopping": args.early_stopping,
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
    print(f"wrote {args.out / 'report.md'}, {args.out / 'crossval.json'} and the figures")
    for failure in result["failures"]:
        print(
            f"ser crossval: error: fold {failure['fold']}, {failure['model']}: {failure['error']}",
            file=sys.stderr,
        )
    return 2 if result["failures"] else 0


def _load(path):
    """A saved model whose weights and metadata are both checked before anything uses them."""
    from nn.serialization import ModelFileError, load_model
    from ser.experiment import validate_metadata

    try:
        model = load_model(path)
        validate_metadata(model, path)
    except ModelFileError as err:
        raise UserError(str(err)) from err
    return model


def _cmd_evaluate(args) -> None:
    from ser.corpus import load_corpus
    from ser.experiment import evaluate

    model = _load(args.model)
    builtin = args.data is None and args.corpus.lower() == "synthetic"
    if args.seed is not None and not builtin:
        raise UserError("--seed chooses the built-in synthetic corpus; not with --data")
    trained = model.metadata.get("seed")
    on_synthetic = model.metadata.get("corpus") == "synthetic" and isinstance(trained, int)
    if builtin and on_synthetic and trained != (args.seed or 0):
        print(  # ser train --seed N trains on the built-in corpus of seed N (other voices)
            f"ser evaluate: note: the model was trained with seed {trained}; if on the built-in "
            f"corpus, on its seed-{trained} voices, which differ from seed {args.seed or 0}'s "
            f"under the same speaker names; --seed {trained} scores its own test speakers",
            file=sys.stderr,
        )
    try:
        if builtin:
            corpus = load_corpus("synthetic", seed=args.seed or 0)
        else:
            corpus = load_corpus(args.corpus, args.data)
        if args.speakers and args.all_speakers:
            raise UserError("give --speakers or --all-speakers, not both")
        speakers = args.speakers or (
            None if args.all_speakers else _test_speakers(model, corpus, args)
        )
        if speakers:
            unknown = [s for s in speakers if s not in corpus.speakers]
            if unknown:
                raise UserError(
                    f"{corpus.name} has no speaker(s) {', '.join(unknown)}; "
                    f"it has {_listing(corpus.speakers)}"
                )
            _note_heard_speakers(model, corpus, args, speakers)
            corpus = corpus.select(speakers=speakers)
        args.speakers = speakers
        scores, match = evaluate(
            model, corpus, cache_dir=args.cache, shared=args.shared, report=True
        )
    except (ValueError, FileNotFoundError) as err:
        raise UserError(str(err)) from err
    for line in match.lines():  # the mapping used, and what was left out on either side
        print(line)
    n_classes = len(scores.labels)  # the classes the model chooses among: chance is 1/n
    print(
        f"{scores.n} utterances: accuracy {scores.accuracy:.3f}, UAR {scores.uar:.3f}, "
        f"macro F1 {scores.macro_f1:.3f} (chance UAR {1 / n_classes:.3f})"
    )
    print(scores.table())
    if args.json:
        import json

        from ser.io import write_text

        result = {
            "model": _show(args.model),
            "data": None if args.data is None else _show(args.data),
            "speakers": args.speakers,
            "labels": match.to_dict(),
            "scores": {
                "labels": scores.labels,
                "n": scores.n,
                "accuracy": scores.accuracy,
                "uar": scores.uar,
                "chance_uar": 1 / n_classes,
                "macro_f1": scores.macro_f1,
                # a class no utterance is of has no recall (NaN): null in JSON
                "recall": [r if math.isfinite(r) else None for r in scores.recall],
                "confusion": scores.confusion.tolist(),
            },
        }
        text = json.dumps(result, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
        print(f"results -> {_show(write_text(args.json, text))}")


def _same_corpus(model, corpus, args) -> bool:
    """Whether ``corpus`` is the one the model was trained on (the built-in one: same seed)."""
    meta = model.metadata
    if meta.get("corpus") != corpus.name:
        return False
    return corpus.name != "synthetic" or meta.get("seed") == (args.seed or 0)


def _test_speakers(model, corpus, args):
    """The model's own test speakers when ``corpus`` is its training corpus (with a note), so
    that ``ser evaluate MODEL`` is a test score, not a score on speakers it learnt from."""
    recorded = (model.metadata.get("speakers") or {}) if _same_corpus(model, corpus, args) else {}
    test = [s for s in recorded.get("test") or [] if s in corpus.speakers]
    if not test:
        return None
    print(
        f"ser evaluate: note: scoring the model's test speakers {', '.join(test)} (never heard "
        "in training); --all-speakers scores every speaker, --speakers chooses",
        file=sys.stderr,
    )
    return test


def _note_heard_speakers(model, corpus, args, speakers) -> None:
    """Say so when a chosen speaker was one the model was trained or validated on."""
    recorded = (model.metadata.get("speakers") or {}) if _same_corpus(model, corpus, args) else {}
    heard = [s for s in speakers if s in set(recorded.get("train") or [])
             | set(recorded.get("validation") or [])]  # fmt: skip
    if heard:
        print(
            f"ser evaluate: note: {', '.join(heard)} trained or validated the model; their "
            "scores are not test scores",
            file=sys.stderr,
        )


def _cmd_robustness(args) -> None:
    """Score a model clean and at each SNR of each noise (ser.robustness; docs/robustness.md):
    every input is checked there before any utterance is analysed, and a mistake is a
    ValueError (an AudioError for a noise file) that the boundary reports in one line."""
    from ser.robustness import robustness_command

    if args.data is not None and args.utterances is not None:
        raise UserError("--utterances sizes the built-in corpus; not with --data")
    robustness_command(
        args.model,
        load=_load,
        data=args.data,
        corpus_name=args.corpus,
        speakers=args.speakers,
        snrs=args.snr,
        noises=args.noise,
        seed=args.seed,
        out=args.out,
        compare=args.compare or (),
        utterances=args.utterances,
        log=print,
        note=lambda line: print(f"ser robustness: {line}", file=sys.stderr),
    )


def _naming(error: str, path) -> str:
    """One line that names ``path`` once, as ``_show`` prints it (a message may hold the raw
    ``str(path)``, whose undecodable bytes would print as surrogates)."""
    shown = _show(path)
    error = _one_line(error.replace(str(path), shown))
    if error.startswith(f"{shown}: {shown}"):
        error = error[len(shown) + 2 :]
    return error if shown in error else f"{shown}: {error}"


def _listing(items, limit: int = 20) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown}, ... ({len(items)} in all)"


def _cmd_predict(args) -> int:
    """Each file alone (or, with --one-speaker, the files together as one speaker's): a bad
    file is one error line, and the other files still run."""
    import numpy as np

    from ser.experiment import pipeline_of, predict_files

    model = _load(args.model)
    labels = model.metadata["labels"]
    spec, *_ = pipeline_of(model)
    if spec.normalisation == "speaker" and not args.one_speaker:
        print(
            f"ser predict: note: {_show(args.model)} normalises by speaker; each file is heard "
            "alone, normalised by its own statistics, which costs accuracy (ser crossval "
            "reports it as 'on each test file alone'). Several files of one speaker: "
            "--one-speaker.",
            file=sys.stderr,
        )
    failed = bugs = 0
    batches = [args.files] if args.one_speaker else [[path] for path in args.files]
    for batch in batches:
        try:
            results = list(predict_files(model, batch, one_speaker=args.one_speaker,
                                         whole=args.whole, report_heard=True))  # fmt: skip
        except _user_errors() as err:
            results = [(path, None, _one_line(err), None) for path in batch]
        except Exception as err:  # a bug: say so, and go on with the other files
            bugs += len(batch)
            where = _show(batch[0]) if len(batch) == 1 else f"{len(batch)} files"
            _report_bug(f"ser {args.command}", err, args.debug, f" (on {where})")
            continue
        for path, probs, error, heard in results:
            if error is None and not np.all(np.isfinite(probs)):
                error = (
                    f"{_show(path)}: the model's output is not a number ({probs}); the model "
                    "file holds weights that are not finite, or the audio is beyond them"
                )
            if error:
                failed += 1
                print(f"ser predict: error: {_naming(error, path)}", file=sys.stderr)
                continue
            ranked = ", ".join(f"{lab} {p:.2f}" for lab, p in zip(labels, probs, strict=True))
            hint = "; --whole for all of it" if heard.how == "the centre" and not args.whole else ""
            print(f"{_show(path)}: {labels[int(probs.argmax())]}  ({ranked})  [{heard}{hint}]")
    return EXIT_BUG if bugs else EXIT_USER if failed else 0


def _cmd_timeline(args) -> int:
    """Emotion over time in each file (ser.timeline): segments printed, timeline.csv/.json/.png
    written per file; a bad file is one error line and the other files still run."""
    from ser.smoothing import SILENCE
    from ser.timeline import timeline_of
    from ser.timeline_report import save_timeline
    from ser.windows import WindowScorer

    model = _load(args.model)
    try:
        scorer = WindowScorer(
            model, window_s=args.window, hop_s=args.hop, silence_db=args.silence_db
        )
    except ValueError as err:
        raise UserError(str(err)) from err
    k = len(scorer.labels)
    if args.smooth == "viterbi" and args.stay < 1.0 / k:
        raise UserError(
            f"--stay {args.stay:g} is below 1/{k} for the model's {k} classes: the transitions "
            "would favour changing the emotion at every window; use at least "
            f"{1.0 / k:.3f} (1/{k} is no smoothing) or --smooth none"
        )
    if args.out:
        try:  # a folder that cannot be made is reported before any audio is read
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"--out {_show(args.out)}: cannot create the folder: "
                            f"{err.strerror or err}") from err  # fmt: skip
    print(
        f"windows of {scorer.window_seconds:.2f} s every {scorer.hop_seconds:.2f} s, "
        f"smoothing {args.smooth}" + (f" (stay {args.stay:g})" if args.smooth == "viterbi" else ""),
        file=sys.stderr,
    )
    failed, stems = 0, set()
    for path in args.files:
        stem = _unique_stem(path, stems)
        show = progress_printer(f"{_show(path)}: seconds read")
        try:
            timeline = timeline_of(
                scorer,
                path,
                smoothing=args.smooth,
                stay=args.stay,
                progress=_seconds_progress(show),
                settings={"model": str(args.model), "stay": args.stay,
                          "silence_db": args.silence_db},
            )  # fmt: skip
            written = save_timeline(args.out / stem, timeline) if args.out else {}
        except _user_errors() as err:
            failed += 1
            print(f"ser timeline: error: {_naming(_one_line(err), path)}", file=sys.stderr)
            continue
        speech = [s for s in timeline.segments if s.emotion != SILENCE]
        n, m = len(timeline.probs), len(timeline.segments)
        print(
            f"{_show(path)}: {timeline.duration:.2f} s, {n} window{'s' * (n != 1)}, "
            f"{m} segment{'s' * (m != 1)} ({len(speech)} of speech)"
        )
        for seg in timeline.segments:
            print(f"  {seg.start:9.2f} - {seg.end:9.2f} s  {seg.emotion:<10} {seg.confidence:.2f}")
        if written:
            print(f"  wrote {', '.join(_show(p) for p in written.values())}")
    return EXIT_USER if failed else 0


def _seconds_progress(show):
    """Progress in whole seconds read, each value shown once; nothing for a file under 10 s."""
    last = [None]

    def progress(done: float, total: float) -> None:
        now = (int(done), int(total))
        if total >= 10 and now != last[0]:
            last[0] = now
            show(*now)

    return progress


def _unique_stem(path: Path, taken: set) -> str:
    """A folder name for one file's outputs: its stem, numbered when two files share it."""
    stem = path.stem or "audio"
    name, k = stem, 2
    while name in taken:
        name, k = f"{stem}-{k}", k + 1
    taken.add(name)
    return name


def _cmd_stream(args) -> int:
    """Emotion of a live stream (ser.stream): raw PCM on stdin, or --file as if it were live;
    the summary line on stderr however it ends (end of input, Ctrl-C, a closed pipe)."""
    from ser.stream import run_stream

    if args.file is not None and args.sr is not None:
        raise UserError(
            "--sr is the rate of raw PCM on standard input; --file reads its rate from the "
            "file's header"
        )
    if args.realtime and args.file is None:
        raise UserError(
            "--realtime paces --file at audio speed; standard input comes at the speed of "
            "whatever writes it"
        )
    model = _load(args.model)
    ending = run_stream(
        model,
        sr=args.sr,
        window_s=args.window,
        hop_s=args.hop,
        silence_db=args.silence_db,
        file=args.file,
        realtime=args.realtime,
        jsonl=args.jsonl,
    )
    return EXIT_INTERRUPTED if ending == "interrupted" else 0


def _cmd_course_exercises(args) -> None:
    """A student copy of the repository with the solutions stripped (ser.course)."""
    from ser.course import CHAPTERS, write_exercises

    report = write_exercises(args.out, chapters=args.chapter)
    print(
        f"wrote {_show(report.out)}: {report.files} files, {len(report.exercises)} exercises "
        f"stripped ({report.regions} solution regions replaced by stubs)"
    )
    for chapter, title in CHAPTERS.items():
        ids = [e.id for e in report.exercises if e.chapter == chapter]
        if ids:
            print(f"  chapter {chapter} · {title}: {' '.join(ids)}")
    print(f"  hand it out; grade it with: ser course grade {_show(report.out)}")


def _cmd_course_grade(args) -> None:
    """The grade sheet of a student copy: its tests run on its own code (ser.course)."""
    import json
    import shutil

    from ser.course import grade

    sheet = grade(args.dir, chapters=args.chapter, timeout=args.timeout)
    if args.json:
        print(json.dumps(sheet.to_dict(), indent=2))
    else:
        print(sheet.to_text(width=max(80, shutil.get_terminal_size((120, 24)).columns)))


def _course_chapter(text: str) -> int:
    """A type for argparse: a chapter with exercises, as 2, 02, ch2 or ch02_cnn."""
    from ser.course.exercises import CHAPTERS

    match = re.fullmatch(r"(?:ch)?0*(\d+)(?:_\w*)?", text.strip())
    if match is None or int(match.group(1)) not in CHAPTERS:
        raise argparse.ArgumentTypeError(
            f"--chapter: no chapter {text!r} with exercises; choose from "
            f"{', '.join(map(str, CHAPTERS))}"
        )
    return int(match.group(1))


def _new_folder(option: str):
    """A type for argparse: a folder that does not exist yet, or is empty."""

    def parse(text: str) -> Path:
        path = Path(text)
        if _is(path, "exists") and (not _is(path, "is_dir") or any(path.iterdir())):
            raise argparse.ArgumentTypeError(
                f"{option} {_show(text)} exists and is not an empty folder; give a new folder"
            )
        return path

    return parse


def _training_options(p) -> None:
    """What a user tunes: training and feature settings (librosa's names); each defaults to
    the recipe's own."""
    p.add_argument(
        "--epochs", type=_whole("--epochs", 1), help="training epochs (default: the recipe's)"
    )
    p.add_argument("--batch-size", type=_whole("--batch-size", 1), metavar="N")
    p.add_argument(
        "--lr",
        type=_positive("--lr", "the learning rate"),
        metavar="RATE",
        help="Adam's learning rate",
    )
    p.add_argument("--features", choices=FEATURES, help="the network's input features")
    p.add_argument(
        "--augment",
        nargs="+",
        choices=(*AUGMENTATIONS, "none"),
        metavar="KIND",
        help="training augmentation: specaugment (masks), speed (0.9x and 1.1x copies), noise "
        "(a copy in white noise at 0-30 dB SNR), or none",
    )
    p.add_argument(
        "--early-stopping",
        action="store_true",
        default=None,
        help="keep the epoch with the best UAR on the validation speakers (drawn from the "
        "training speakers, never the test ones) and stop when it stops improving",
    )
    # feature sizes: MFCCConfig checks them, naming its own field (n_mels, hop_length, ...)
    p.add_argument("--n-mfcc", type=int, metavar="N")
    p.add_argument("--n-mels", type=int, metavar="N")
    p.add_argument("--hop-length", type=int, metavar="SAMPLES")
    p.add_argument("--win-length", type=int, metavar="SAMPLES")


# ---- arguments are checked where they are parsed: each check names its option ----


class _Parser(argparse.ArgumentParser):
    """argparse, with every mistake reported as one line (no usage block) by ``main``."""

    def error(self, message):
        raise _UsageError(self.prog, message)


class _UsageError(Exception):
    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog
        # "argument --seed: --seed must be ..." -> "--seed must be ...";
        # "argument --emotion: unknown ..." -> "--emotion: unknown ..."
        match = re.match(r"argument ([^:]+): (.*)", message, flags=re.S)
        if match:
            names, rest = match.group(1), match.group(2)
            if names == "COMMAND":
                message = rest.replace("invalid choice", "unknown command")
            elif any(rest.startswith(o) for o in names.split("/")):
                message = rest
            else:
                message = f"{names}: {rest}"
        self.message = message


def _whole(option: str, minimum: int, maximum: int | None = None, unit: str = ""):
    """A type for argparse: a whole number within [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            raise argparse.ArgumentTypeError(
                f"{option} must be a whole number {bounds}{unit}, got {text}"
            )
        return value

    return parse


def _number(option: str, ok, wanted: str):
    """A type for argparse: a float for which ``ok(value)`` holds (NaN for text that is no
    number), else "<option> must be <wanted>, got <text>"."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{option} must be {wanted}, got {text}")
        return value

    return parse


def _positive(option: str, what: str = ""):
    """A type for argparse: a finite number > 0 (``what`` names it in the message)."""
    name = f"{option} ({what})" if what else option
    return _number(name, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")


def _finite(option: str):
    """A type for argparse: a finite number (no nan, no inf)."""
    return _number(option, math.isfinite, "a finite number")


def _probability(option: str):
    """A type for argparse: a number strictly between 0 and 1."""
    return _number(option, lambda v: 0.0 < v < 1.0, "a number between 0 and 1")


def _emotion(known):
    """A type for argparse: one of the ``known`` emotion labels."""

    def parse(text: str) -> str:
        if text not in known:
            raise argparse.ArgumentTypeError(
                f"unknown emotion(s) {text}; choose from {', '.join(known)}"
            )
        return text

    return parse


def _emotions_action(minimum: int):
    """An argparse action for ``--emotions``: no label twice, and at least ``minimum``."""

    class Emotions(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            repeated = sorted({v for v in values if values.count(v) > 1}, key=values.index)
            if repeated:
                raise argparse.ArgumentError(
                    self, f"{option_string} names {', '.join(repeated)} more than once"
                )
            if len(values) < minimum:
                raise argparse.ArgumentError(
                    self,
                    f"{option_string} needs at least two emotions (one class leaves nothing "
                    f"to tell apart), got {' '.join(values)}",
                )
            setattr(namespace, self.dest, list(values))

    return Emotions


def _folder(option: str):
    """A type for argparse: a folder to write into (it may not exist yet, but is no file)."""

    def parse(text: str) -> Path:
        path = Path(text)
        if _is(path, "exists") and not _is(path, "is_dir"):
            raise argparse.ArgumentTypeError(
                f"{option} {_show(text)} is a file; give a folder (it is created if missing)"
            )
        return path

    return parse


def _file(option: str, kinds: tuple[str, ...] | None = None, what: str = "file"):
    """A type for argparse: a file to write (not a folder; its extension one of ``kinds``)."""

    def parse(text: str) -> Path:
        path = Path(text)
        if text.endswith(("/", os.sep)) or _is(path, "is_dir"):
            raise argparse.ArgumentTypeError(
                f"{option} {_show(text)} is a folder; give the {what}'s name"
            )
        if kinds is not None:
            known = kinds() if callable(kinds) else kinds
            suffix = path.suffix.lower().lstrip(".")
            if suffix and suffix not in known:
                raise argparse.ArgumentTypeError(
                    f"{option} {_show(text)}: unknown {what} type .{suffix}; "
                    f"use one of {', '.join('.' + k for k in known)}"
                )
        return path

    return parse


def _is(path: Path, test: str) -> bool:
    """``path.exists()`` / ``path.is_dir()``, False where the system cannot say (a name too
    long, a folder we may not search): the write itself then reports it in one line."""
    try:
        return getattr(path, test)()
    except OSError:
        return False


def _image_kinds() -> tuple[str, ...]:
    """The image formats matplotlib writes here (png, pdf, svg, jpg, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple(FigureCanvasBase.get_supported_filetypes())


def _window_options(p, *, hop: str, silence: str) -> None:
    """--window, --hop and --silence-db: how ser timeline and ser stream hear a recording
    (ser.windows.WindowScorer), the same options for both so that they can agree."""
    p.add_argument(
        "--window",
        type=_positive("--window", "seconds"),
        help="seconds per window (default: the model's input, 1.28 s for the course's models)",
    )
    p.add_argument("--hop", type=_positive("--hop", "seconds"), help=hop)
    p.add_argument(
        "--silence-db",
        type=_within("--silence-db", -100.0, 0.0, " dBFS"),
        default=-50.0,
        help=f"frames quieter than this (dBFS, -100 .. 0) are not speech; {silence}",
    )


def _within(option: str, low: float, high: float, unit: str = ""):
    """A type for argparse: a number within [low, high]."""
    return _number(option, lambda v: low <= v <= high, f"within {low:g} .. {high:g}{unit}")


def build_parser() -> argparse.ArgumentParser:
    from ser.corpus.records import LABELS
    from ser.corpus.synth import DEFAULT_EMOTIONS, EMOTIONS
    from ser.demo import DEMO_EMOTIONS

    parser = _Parser(
        prog="ser",
        description="Speech emotion recognition from scratch: MFCC features and hand-written "
        "networks (a course; see README.md).",
        epilog="Exit status: 0 done, 2 a mistake in the input (one line on stderr), 130 "
        "interrupted, 141 the output pipe was closed, 1 a bug in ser (please report it).",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of any error (for a report)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    seed = {"type": _whole("--seed", 0), "default": 0}

    p = commands.add_parser("mfcc", help="compute the MFCCs of one audio file")
    p.add_argument("file", nargs="?", type=Path, help="a WAV, FLAC or OGG file")
    p.add_argument("--synthetic", action="store_true", help="use a built-in synthetic utterance")
    p.add_argument(
        "--emotion",
        default="neutral",
        type=_emotion(EMOTIONS),
        help="emotion of the synthetic utterance",
    )
    p.add_argument("--seed", **seed, help="seed of the synthetic utterance")
    p.add_argument("--preset", default="default", help="default | librosa | python_speech_features")
    p.add_argument(
        "--out", type=_file("--out"), help="save the (frames, coefficients) array as .npy"
    )
    p.add_argument(
        "--plot",
        type=_file("--plot", _image_kinds, "image"),
        help="save a figure of the features (.png, .pdf, .svg, ...)",
    )
    p.set_defaults(run=_cmd_mfcc)

    p = commands.add_parser("synth", help="write the built-in synthetic corpus as WAV files")
    p.add_argument(
        "--out", type=_folder("--out"), required=True, help="folder for the WAVs and manifest.csv"
    )
    p.add_argument(
        "--emotions",
        nargs="+",
        default=list(DEFAULT_EMOTIONS),
        metavar="EMOTION",
        type=_emotion(EMOTIONS),
        action=_emotions_action(1),
    )
    p.add_argument("--speakers", type=_whole("--speakers", 1), default=10)
    p.add_argument(
        "--utterances",
        type=_whole("--utterances", 1),
        default=20,
        help="per speaker and emotion",
    )
    p.add_argument("--seed", **seed)
    p.add_argument("--snr", type=_finite("--snr"), help="add white noise at this SNR in dB")
    p.add_argument(
        "--sr",
        type=_whole("--sr", MIN_SR, MAX_SR, " Hz"),
        default=16000,
        help="sample rate of the files, Hz",
    )
    p.set_defaults(run=_cmd_synth)

    p = commands.add_parser("corpus", help="summarise a corpus and list the files it skipped")
    p.add_argument("name", help="ravdess | crema-d | tess | emodb | synthetic")
    p.add_argument("root", nargs="?", type=Path, help="the folder (none: built-in synthetic)")
    p.add_argument(
        "--show-skipped",
        type=_whole("--show-skipped", 0),
        default=20,
        metavar="N",
        help="list at most N skipped files (0: only count them)",
    )
    p.set_defaults(run=_cmd_corpus)

    emotions = {
        "nargs": "+",
        "metavar": "EMOTION",
        "type": _emotion(LABELS),
        "action": _emotions_action(2),
    }
    p = commands.add_parser(
        "demo", help="the main job: synthesise, train the document's CNN, report"
    )
    p.add_argument(
        "--out",
        type=_folder("--out"),
        default=Path("ser_output"),
        help="folder for model, report, figures",
    )
    p.add_argument("--emotions", default=list(DEMO_EMOTIONS), **emotions)
    p.add_argument(
        "--model", default="cnn", choices=MODELS, help="the recipe (default: the document's CNN)"
    )
    _training_options(p)
    p.add_argument("--seed", **seed)
    p.add_argument("--data", type=Path, help="a real corpus's folder instead of the synthetic one")
    p.add_argument("--corpus", help="its name: ravdess | crema-d | tess | emodb | synthetic")
    p.add_argument(
        "--speakers",
        type=_whole("--speakers", 3),
        help="speakers of the built-in corpus (default 10; fewer for a quick run)",
    )
    p.add_argument(
        "--utterances",
        type=_whole("--utterances", 1),
        help="its utterances per speaker and emotion (default 20)",
    )
    p.add_argument("--cache", type=Path, help="feature cache folder (default ~/.cache/ser-course)")
    p.set_defaults(run=_cmd_demo)

    p = commands.add_parser("train", help="train the document's CNN on a corpus and save it")
    p.add_argument("--data", type=Path, help="corpus folder (none: the built-in synthetic corpus)")
    p.add_argument("--corpus", default="synthetic")
    p.add_argument("--emotions", default=list(DEMO_EMOTIONS), **emotions)
    p.add_argument("--model", default="cnn", choices=MODELS, help="the recipe")
    _training_options(p)
    p.add_argument("--seed", **seed)
    p.add_argument("--out", type=_file("--out", what="model file"), default=Path("model.npz"))
    p.add_argument("--cache", type=Path)
    p.set_defaults(run=_cmd_train)

    p = commands.add_parser(
        "crossval", help="cross-validation by speaker: every model and the baseline, same folds"
    )
    p.add_argument("--data", type=Path, help="corpus folder (none: the built-in synthetic corpus)")
    p.add_argument("--corpus", help="its name: ravdess | crema-d | tess | emodb | synthetic")
    p.add_argument(
        "--folds", type=_whole("--folds", 2), metavar="K", help="folds of speakers (default 6)"
    )
    p.add_argument("--loso", action="store_true", help="leave one speaker out: a fold each")
    p.add_argument(
        "--model",
        nargs="+",
        action="extend",
        choices=(*MODELS, "baseline"),
        help="recipes to cross-validate side by side (default cnn1d-spk); the "
        "baseline is always added",
    )
    p.add_argument("--emotions", help="default: every emotion", **emotions)
    _training_options(p)
    p.add_argument("--seed", **seed)
    p.add_argument(
        "--split",
        choices=("speakers", "utterances"),
        default="speakers",
        help="'utterances': random folds of utterances, speakers in train and test alike (only "
        "to measure how much that inflates the scores)",
    )
    p.add_argument("--out", type=_folder("--out"), default=Path("crossval_output"))
    p.add_argument("--cache", type=Path)
    p.set_defaults(run=_cmd_crossval)

    p = commands.add_parser("evaluate", help="score a saved model on a corpus")
    p.add_argument("model", type=Path)
    p.add_argument("--data", type=Path, help="corpus folder (none: the built-in synthetic corpus)")
    p.add_argument("--corpus", default="synthetic")
    p.add_argument(
        "--speakers",
        nargs="+",
        help="only these speakers (default on the model's own corpus: its test speakers)",
    )
    p.add_argument(
        "--all-speakers",
        action="store_true",
        help="every speaker of the corpus, also those the model was trained on",
    )
    p.add_argument("--cache", type=Path)
    p.add_argument(
        "--seed",
        type=_whole("--seed", 0),
        help="the built-in synthetic corpus of this seed (default 0; ser train --seed N "
        "trains on the corpus of seed N: its voices differ under the same speaker names)",
    )
    p.add_argument(
        "--shared",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="score on the classes the model and the corpus share, the model's probabilities "
        "restricted to them and renormalised (default; docs/across-corpora.md, eq. X-1); "
        "--no-shared: the model chooses among all its classes, and a class the corpus lacks "
        "is an error. Either way, what is left out is reported",
    )
    p.add_argument(
        "--json",
        type=_file("--json", ("json",), "JSON file"),
        metavar="FILE",
        help="also write the scores, the label mapping and what was left out as JSON",
    )
    p.set_defaults(run=_cmd_evaluate)

    p = commands.add_parser(
        "robustness", help="score a saved model clean and in noise at each SNR (UAR vs SNR)"
    )
    p.add_argument("model", type=Path)
    p.add_argument("--data", type=Path, help="corpus folder (none: the built-in synthetic corpus)")
    p.add_argument("--corpus", default="synthetic")
    p.add_argument(
        "--speakers",
        nargs="+",
        help="speakers to score (default: the model's own test speakers, from its file)",
    )
    p.add_argument(
        "--snr",
        nargs="+",
        type=_finite("--snr"),
        metavar="DB",
        help="signal-to-noise ratios in dB over the whole utterance (default 30 20 10 5 0); "
        "clean is always scored first",
    )
    p.add_argument(
        "--noise",
        nargs="+",
        metavar="KIND",
        help="white, pink, babble (other speakers of the corpus) or a noise FILE, looped or "
        "cropped to length (default: white pink babble)",
    )
    p.add_argument("--seed", **seed, help="seed of every random choice of the noises")
    p.add_argument("--out", type=_folder("--out"), default=Path("robustness_output"))
    p.add_argument(
        "--compare",
        nargs="+",
        type=Path,
        metavar="MODEL",
        help="other models scored on the same mixtures, side by side in the figure",
    )
    p.add_argument(
        "--utterances",
        type=_whole("--utterances", 1),
        help="utterances per speaker and emotion of the built-in corpus (default 20)",
    )
    p.set_defaults(run=_cmd_robustness)

    p = commands.add_parser("predict", help="the emotion of audio files, with class probabilities")
    p.add_argument("model", type=Path)
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument(
        "--whole",
        action="store_true",
        help="hear all of each file: crops every half window across its speech, class "
        "probabilities averaged (default: as the model was tested; the document's CNN hears "
        "one 1.28 s crop at the centre)",
    )
    p.add_argument(
        "--one-speaker",
        action="store_true",
        help="the files are recordings of one speaker: normalise them together by that "
        "speaker's statistics, as the model was trained (for models normalised per speaker)",
    )
    p.set_defaults(run=_cmd_predict)

    p = commands.add_parser(
        "timeline",
        help="emotion over time in long recordings: windows, smoothed segments, silence",
    )
    p.add_argument("model", type=Path)
    p.add_argument("files", nargs="+", type=Path)
    _window_options(p, hop="seconds between windows (default: half a window)",
                    silence="a window with under a half of speech frames is silence")  # fmt: skip
    p.add_argument(
        "--smooth",
        choices=("viterbi", "median", "none"),
        default="viterbi",
        help="how window labels become segments (default: a sticky HMM, Viterbi)",
    )
    p.add_argument(
        "--stay",
        type=_probability("--stay"),
        default=0.9,
        help="Viterbi: probability of keeping the emotion from one window to the next, at "
        "least 1/K for K classes (default 0.9)",
    )
    p.add_argument(
        "--out",
        type=_folder("--out"),
        help="write <file>/timeline.csv, timeline.json and timeline.png here for each file",
    )
    p.set_defaults(run=_cmd_timeline)

    p = commands.add_parser(
        "stream",
        help="the emotion of a live stream, one line per hop: raw 16-bit mono PCM on stdin "
        "(arecord -f S16_LE -r 16000 -c 1 | ser stream MODEL) or --file",
    )
    p.add_argument("model", type=Path)
    p.add_argument(
        "--sr",
        type=_whole("--sr", MIN_SR, MAX_SR, " Hz"),
        metavar="HZ",
        help="sample rate of the PCM on stdin (default: the model's, 16000 for the course's "
        "models); another rate is resampled",
    )
    _window_options(p, hop="seconds between predictions (default: half a window)",
                    silence="as in ser timeline")  # fmt: skip
    p.add_argument("--jsonl", action="store_true", help="one JSON object per window and line")
    p.add_argument(
        "--file", type=Path, metavar="F", help="read an audio file as if it were live instead"
    )
    p.add_argument("--realtime", action="store_true", help="with --file: at the audio's own speed")
    p.set_defaults(run=_cmd_stream)

    p = commands.add_parser(
        "course", help="the course as coursework: exercises stripped from the code, graded"
    )
    course = p.add_subparsers(dest="course_command", required=True, metavar="SUBCOMMAND")
    chapter = {"nargs": "+", "type": _course_chapter, "metavar": "N"}
    q = course.add_parser(
        "exercises", help="write a student copy with every solution region replaced by a stub"
    )
    q.add_argument("--out", type=_new_folder("--out"), required=True, help="a new folder")
    q.add_argument("--chapter", **chapter, help="strip only these chapters' exercises")
    q.set_defaults(run=_cmd_course_exercises)
    q = course.add_parser(
        "grade", help="run a student copy's tests on its own code: one row per exercise"
    )
    q.add_argument("dir", type=Path, metavar="DIR", help="the student's copy")
    q.add_argument("--chapter", **chapter, help="grade only these chapters' exercises")
    q.add_argument("--json", action="store_true", help="the sheet as JSON (for an LMS)")
    q.add_argument(
        "--timeout",
        type=_positive("--timeout", "seconds"),
        default=900.0,
        help="seconds the tests may take in all (default 900)",
    )
    q.set_defaults(run=_cmd_course_grade)
    return parser


# ---- the error boundary ----

_USER_ERRORS: tuple[type[BaseException], ...] = (UserError, ValueError, OSError, EOFError)


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user can cause: bad input (ValueError covers features.AudioError,
    nn.serialization.ModelFileError and codec errors), the file system (OSError: a full
    disk, a folder that cannot be written, a name too long), a truncated file (EOFError), a
    malformed CSV (csv.Error), and a request for more memory than there is."""
    import csv

    return (*_USER_ERRORS, csv.Error, MemoryError)


def _one_line(err) -> str:
    """An exception (or a message) as one line that names the file the system named."""
    if isinstance(err, str):
        text = err
    elif isinstance(err, MemoryError):
        text = "not enough memory" + (f": {err}" if str(err) else "")
    elif isinstance(err, OSError) and err.filename is not None:
        text = f"{_show(err.filename)}: {err.strerror or err}"
        if err.filename2 is not None and os.fspath(err.filename2) != os.fspath(err.filename):
            text = f"{_show(err.filename)} -> {_show(err.filename2)}: {err.strerror or err}"
    else:
        text = str(err) or type(err).__name__
    text = " / ".join(line.strip() for line in str(text).splitlines() if line.strip())
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _report_bug(prog: str, err: BaseException, debug: bool, where: str = "") -> None:
    if debug:
        import traceback

        traceback.print_exception(type(err), err, err.__traceback__, file=sys.stderr)
    hint = "" if debug else "; run it again as `ser --debug ...` for the traceback"
    print(
        f"{prog}: internal error{where}: {type(err).__name__}: {_one_line(err)}. This is a bug "
        f"in ser: please report it with the command you ran{hint}",
        file=sys.stderr,
    )


def _tolerant_streams() -> None:
    """Never fail on printing: what the terminal's encoding cannot show (PYTHONIOENCODING
    =ascii, file names that are not UTF-8) is printed as a backslash escape."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass  # not a text stream we own (a test's capture, a closed stream)


def _quiet_stdout() -> None:
    """The reader of our stdout went away: send whatever is still buffered nowhere, so the
    interpreter's last flush does not complain (Python's docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _usage_prog(parser, err, argv) -> str:
    """The command a usage error belongs to: argparse reports an unknown option of a command
    from the top-level parser ("ser: error: unrecognized arguments"), so name the command."""
    if err.prog != "ser" or not err.message.startswith("unrecognized arguments"):
        return err.prog
    commands = next(
        (a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {}
    )
    words = [w for w in (sys.argv[1:] if argv is None else argv) if not w.startswith("-")]
    return f"ser {words[0]}" if words and words[0] in commands else err.prog


def main(argv: list[str] | None = None) -> int:
    _tolerant_streams()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as err:
        print(f"{_usage_prog(parser, err, argv)}: error: {_one_line(err.message)}", file=sys.stderr)
        return EXIT_USER
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else 0
    prog = " ".join(["ser", args.command, *filter(None, [getattr(args, "course_command", None)])])
    try:
        try:
            status = int(args.run(args) or 0)
            sys.stdout.flush()
            return status
        except BrokenPipeError:
            _quiet_stdout()
            return EXIT_PIPE
        except KeyboardInterrupt:
            if args.debug:
                import traceback

                traceback.print_exc(file=sys.stderr)
            after_progress = "\n" if sys.stderr.isatty() else ""  # end a live counter's line
            print(f"{after_progress}{prog}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except _user_errors() as err:
            if args.debug:
                import traceback

                traceback.print_exc(file=sys.stderr)
            print(f"{prog}: error: {_one_line(err)}", file=sys.stderr)
            return EXIT_USER
        except Exception as err:
            _report_bug(prog, err, args.debug)
            return EXIT_BUG
    except BrokenPipeError:  # stdout closed while an error was being reported
        _quiet_stdout()
        return EXIT_PIPE


if __name__ == "__main__":  # python -m ser.cli
    sys.exit(main())
