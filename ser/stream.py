"""Emotion of a live stream, hop by hop (the document's A3): ``ser stream`` (eq. ST-3).

    samples (any rate) --StreamingResampler (ST-2)--> samples at the model's rate
      --StreamingFeatures (ST-1)--> frames, exactly the offline frames of the whole stream
      --a ring buffer of the last W frames--> every h frames, the window just completed
      --ser.windows.WindowScorer (T-2, T-3)--> probabilities, speech or silence --> a line

Window i is frames [i h, i h + W) (eq. T-1), the window ``ser timeline`` scores with the same
W and h, and it is scored by the same ``WindowScorer``: the two commands give the same
probabilities window for window (eq. ST-3, tested). Only W frames are kept, however long
the stream runs; the audio itself is never stored, written or sent anywhere
(docs/streaming.md, "What is stored").

Shape letters (docs/conventions.md): W frames per window, C features, K classes.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from features.audio import path_for_message
from features.streaming import StreamingFeatures, StreamingResampler, read_blocks
from ser.windows import DEFAULT_SILENCE_DB, SILENCE, WindowScorer

__all__ = [
    "FrameRing",
    "Prediction",
    "StreamRecognizer",
    "pcm_chunks",
    "file_chunks",
    "run_stream",
    "warm_up",
    "PCM_SCALE",
]

PCM_SCALE = 32768.0  # 16-bit PCM -> full scale [-1, 1), as soundfile reads a PCM_16 WAV
_READ_BYTES = 4096  # at most this much of stdin per read: 128 ms at 16 kHz, less if less waits
_FILE_BLOCK_S = 1.0  # a file read as fast as it goes
_LIVE_BLOCK_S = 0.02  # a file read at audio speed (--realtime): 20 ms, a sound card's period


class FrameRing:
    """The last ``capacity`` frames of each kind, in arrays written round and round.

    Frame number t (counted from the start of the stream) sits in row t mod capacity, so
    writing costs no shifting and the memory is fixed: capacity x C floats per kind.

    Parameters
    ----------
    capacity : int
        W, frames kept (a window).
    widths : dict kind -> tuple
        The shape of one frame of each kind: (C,) or () for the energy.
    """

    def __init__(self, capacity: int, widths: dict):
        self.capacity = int(capacity)
        self.data = {k: np.zeros((self.capacity, *w)) for k, w in widths.items()}
        self.count = 0  # frames written since the start

    def write(self, frames: dict, lo: int, hi: int) -> None:
        """Append rows lo .. hi - 1 of each kind's new frames."""
        n = hi - lo
        if n <= 0:
            return
        skip = max(0, n - self.capacity)  # older rows would be overwritten at once
        rows = (self.count + skip + np.arange(n - skip)) % self.capacity
        for kind, ring in self.data.items():
            ring[rows] = frames[kind][lo + skip : hi]
        self.count += n

    def window(self) -> dict:
        """The last ``capacity`` frames of each kind, oldest first (copies, (W, C) / (W,))."""
        if self.count < self.capacity:
            raise ValueError(f"the ring holds {self.count} of its {self.capacity} frames")
        at = self.count % self.capacity  # the oldest row
        return {k: np.concatenate((r[at:], r[:at])) for k, r in self.data.items()}


@dataclass(frozen=True)
class Prediction:
    """What the stream says about one window.

    Attributes
    ----------
    index : int                   window i (eq. T-1)
    start, end : float            seconds of the stream the window spans (``window_times``)
    emotion : str                 the most probable class, or "silence" (eq. T-3)
    confidence : float or None    its probability; None for silence
    probabilities : ndarray (K,)  every class's, computed for silent windows too
    speech : bool
    labels : tuple of str         the K classes, in the order of ``probabilities``
    """

    index: int
    start: float
    end: float
    emotion: str
    confidence: float | None
    probabilities: np.ndarray
    speech: bool
    labels: tuple

    def to_dict(self) -> dict:
        """One JSON object of ``--jsonl`` (times in seconds, probabilities by label)."""
        return {
            "window": self.index,
            "start": round(self.start, 4),
            "end": round(self.end, 4),
            "emotion": self.emotion,
            "confidence": None if self.confidence is None else round(self.confidence, 6),
            "speech": self.speech,
            "probabilities": {
                lab: round(float(p), 6)
                for lab, p in zip(self.labels, self.probabilities, strict=True)
            },
        }

    def line(self) -> str:
        """The line ``ser stream`` prints: the window's span, the emotion, its probability."""
        shown = "   -" if self.confidence is None else f"{self.confidence:.2f}"
        return f"{self.start:9.2f} - {self.end:9.2f} s  {self.emotion:<10} {shown}"


class StreamRecognizer:
    """Push samples as they arrive; get a prediction every hop once a window is full (ST-3).

    Math (docs/streaming.md, eq. ST-3)::

        window i = frames [i h, i h + W) of the stream  (T-1),   emitted when frame
        i h + W - 1 arrives;   p_i = scorer.score(window i)  (T-2, T-3)
        ==>  p_i == scorer.score(scorer.windows_of(offline frames of the whole stream))[i]

    because the frames are the offline frames (ST-1) and the window holds exactly them.

    Parameters
    ----------
    scorer : ser.windows.WindowScorer
        The model, W, h, and how a window is scored.
    input_sr : int, optional
        Hz of the pushed samples; default the model's (``scorer.config.sample_rate``). Another
        rate is resampled with ``features.streaming.StreamingResampler`` (ST-2).

    Attributes
    ----------
    windows : int                     predictions made so far
    counts : collections.Counter      how many windows each emotion (or "silence") got
    samples_in : int                  samples pushed, at ``input_sr``
    busy_seconds : float              wall-clock time spent inside push and finish

    Notes
    -----
    Memory: the ring buffer holds W frames of each kind; ``StreamingFeatures`` fewer than a
    frame and a half of samples; the resampler about a filter's length. Nothing grows with the
    stream but the counters.
    """

    def __init__(self, scorer: WindowScorer, *, input_sr: int | None = None):
        self.scorer = scorer
        config = scorer.config
        self.input_sr = config.sample_rate if input_sr is None else int(input_sr)
        self.features = StreamingFeatures(config, scorer.kinds)
        self.resampler = (
            None
            if self.input_sr == config.sample_rate
            else StreamingResampler(self.input_sr, config.sample_rate)
        )
        widths = {"mfcc": (config.n_mfcc,), "logmel": (config.n_mels,), "energy": ()}
        self.ring = FrameRing(scorer.window_frames, {k: widths[k] for k in scorer.kinds})
        self.labels = tuple(scorer.labels)
        self.windows = 0
        self.counts: Counter = Counter()
        self.samples_in = 0
        self.busy_seconds = 0.0
        self._done = False

    @property
    def seconds_heard(self) -> float:
        """Seconds of audio pushed."""
        return self.samples_in / self.input_sr

    def push(self, samples) -> list[Prediction]:
        """Feed the next samples (mono, full scale, at ``input_sr``); the windows they
        complete, each scored, in order (often none, at most a few)."""
        if self._done:
            raise RuntimeError("StreamRecognizer.push after finish()")
        t0 = time.perf_counter()
        x = np.asarray(samples, dtype=np.float64)
        if self.resampler is not None:
            x = self.resampler.push(x)
        new = self.features.push(x)
        self.samples_in += int(np.asarray(samples).size)
        out = self._take(new)
        self.busy_seconds += time.perf_counter() - t0
        return out

    def finish(self) -> list[Prediction]:
        """End of the stream: the windows its last frames complete (a resampler's tail, the
        zeros of centre or end padding). A stream shorter than one frame gives none."""
        if self._done:
            raise RuntimeError("StreamRecognizer.finish called twice")
        t0 = time.perf_counter()
        out = []
        if self.resampler is not None:
            out += self._take(self.features.push(self.resampler.finish()))
        self._done = True
        if self.features.samples_seen >= self.scorer.config.win_length:
            out += self._take(self.features.finish())  # shorter: no frame at all, offline too
        self.busy_seconds += time.perf_counter() - t0
        return out

    def _take(self, frames: dict) -> list[Prediction]:
        """Write new frames into the ring, cutting out each window the moment it is full."""
        s = self.scorer
        n = len(frames["energy"])
        pos, ready, first = 0, [], self.windows
        while pos < n:
            end = (first + len(ready)) * s.hop_frames + s.window_frames  # eq. T-1
            take = min(n - pos, end - self.ring.count)
            self.ring.write(frames, pos, pos + take)
            pos += take
            if self.ring.count == end:
                ready.append(self.ring.window())
        if not ready:
            return []
        batch = {k: np.stack([w[k] for w in ready]) for k in s.kinds}  # (N, W, C) / (N, W)
        probs, speech = s.score(batch)  # eqs. T-2, T-3: the timeline's scorer
        starts, ends = s.window_times(np.arange(first, first + len(ready)))
        out = []
        for j, (p, sp) in enumerate(zip(probs, speech, strict=True)):
            best = int(np.argmax(p))
            emotion = self.labels[best] if sp else SILENCE
            out.append(
                Prediction(
                    index=first + j,
                    start=float(starts[j]),
                    end=float(ends[j]),
                    emotion=emotion,
                    confidence=float(p[best]) if sp else None,
                    probabilities=p,
                    speech=bool(sp),
                    labels=self.labels,
                )
            )
            self.counts[emotion] += 1
        self.windows += len(out)
        return out

    def summary(self, ending: str = "end of input") -> str:
        """One line: how it ended, seconds heard, windows, the most frequent emotion (speech
        windows only, when there are any), and the real-time factor (processing time /
        audio time: 0.05 means a second of audio took 50 ms)."""
        speech = {k: v for k, v in self.counts.items() if k != SILENCE}
        pool = speech or self.counts
        if pool:
            rank = {lab: i for i, lab in enumerate((*self.labels, SILENCE))}
            top = max(pool, key=lambda k: (pool[k], -rank[k]))  # a tie: the model's order
            kind = "speech windows" if speech else "windows"
            most = f"mostly {top} ({pool[top]} of {sum(pool.values())} {kind})"
        else:
            most = "no window"
        rtf = self.busy_seconds / self.seconds_heard if self.samples_in else 0.0
        silent = self.counts.get(SILENCE, 0)
        return (
            f"{ending}: heard {self.seconds_heard:.2f} s of audio, {self.windows} windows "
            f"({silent} silent), {most}, real-time factor {rtf:.3f}"
        )


def warm_up(scorer: WindowScorer) -> None:
    """Score one window of digital silence and forget it: the first call of each kernel
    (Numba loads its compiled code, the network allocates) then happens before the first
    sample arrives, not in the first live prediction's latency or the real-time factor."""
    c = scorer.config
    n = (scorer.window_frames - 1) * c.hop_length + c.win_length  # samples of one window
    StreamRecognizer(scorer).push(np.zeros(n))


# ---- sources of samples -------------------------------------------------------------------


def pcm_chunks(stream, *, sr: int, warn, read_bytes: int = _READ_BYTES):
    """Samples of raw 16-bit little-endian mono PCM from a binary stream, as they come.

    Each read takes what is there (``read1``: one system call, up to ``read_bytes``), so a
    microphone's samples are processed as soon as they arrive, not when a buffer fills. A
    sample split between two reads is put back together; a byte left at the very end (the
    writer stopped mid-sample) is dropped, and ``warn`` gets one line saying so.

    A stream that starts with a WAV header (``arecord`` writes one unless given ``-t raw``)
    has it skipped, after checking that it announces what is read: 16-bit mono PCM at ``sr``
    Hz; anything else is a ValueError saying what to change.

    Yields
    ------
    ndarray (S_k,) float64, full scale (int16 / 32768), never empty
    """
    read = getattr(stream, "read1", None) or stream.read
    carry = b""
    total = 0
    first = True
    while True:
        data = read(read_bytes)
        if first and data:  # enough bytes to tell a WAV header from samples
            while 0 < len(data) < 12 and (extra := read(read_bytes)):
                data += extra
        if not data:
            break
        total += len(data)
        if first:
            first = False
            if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
                data, more = _after_wav_header(data, read, sr=sr)
                total += more  # the bytes read to find the header's end
        data = carry + data
        whole = len(data) // 2 * 2
        carry = data[whole:]
        if whole:
            yield np.frombuffer(data[:whole], dtype="<i2").astype(np.float64) / PCM_SCALE
    if carry:
        warn(
            f"the input ended inside a sample ({total} bytes, an odd number; 16-bit samples "
            "take 2): its last byte was dropped"
        )


_WAV_HEADER_MAX = 1 << 16  # bytes searched for the start of a WAV stream's samples


def _wav_layout(head: bytes):
    """(offset of the samples, (format tag, channels, rate, bits)) of a RIFF/WAVE header, or
    None while ``head`` ends before the ``data`` chunk starts."""
    at, fmt = 12, None
    while at + 8 <= len(head):
        chunk, size = head[at : at + 4], int.from_bytes(head[at + 4 : at + 8], "little")
        if chunk == b"data":
            if fmt is None:
                raise ValueError(
                    "standard input is a WAV stream without a fmt chunk before its samples"
                )
            return at + 8, fmt
        if chunk == b"fmt ":
            if at + 8 + 16 > len(head):
                return None
            body = head[at + 8 : at + 24]
            tag, channels = int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little")
            rate, bits = int.from_bytes(body[4:8], "little"), int.from_bytes(body[14:16], "little")
            fmt = (tag, channels, rate, bits)
        at += 8 + size + (size & 1)  # chunks are padded to an even length
    return None


def _after_wav_header(data: bytes, read, *, sr: int) -> tuple[bytes, int]:
    """The samples after a WAV header at the start of a stream, and how many more bytes were
    read to reach them; the header must announce 16-bit mono PCM at ``sr`` Hz."""
    more = 0
    while (found := _wav_layout(data)) is None and len(data) < _WAV_HEADER_MAX:
        extra = read(_READ_BYTES)
        if not extra:
            break
        data += extra
        more += len(extra)
    if found is None:
        raise ValueError(
            "standard input starts as a WAV file does (RIFF ... WAVE), but no samples follow "
            "its header; send raw PCM (arecord -t raw, sox -t raw)"
        )
    offset, (tag, channels, rate, bits) = found
    if tag not in (1, 0xFFFE) or channels != 1 or bits != 16:
        what = "PCM" if tag in (1, 0xFFFE) else f"format {tag}"
        raise ValueError(
            f"standard input is a WAV stream of {channels} channel(s) of {bits}-bit {what}; "
            "ser stream reads 16-bit mono PCM: record with -f S16_LE -c 1"
        )
    if rate != sr:
        raise ValueError(
            f"standard input is a WAV stream at {rate} Hz, read as {sr} Hz: pass --sr {rate}"
        )
    return data[offset:], more


def file_chunks(path, *, sr: int, realtime: bool = False, clock=time.monotonic, sleep=time.sleep):
    """The samples of an audio file at ``sr`` Hz, in blocks (``features.streaming.read_blocks``,
    every check of ``features.load_audio``); with ``realtime``, in 20 ms blocks paced to the
    audio's own speed, as a microphone would give them."""
    blocks = read_blocks(path, sr=sr, block_seconds=_LIVE_BLOCK_S if realtime else _FILE_BLOCK_S)
    start, done = clock(), 0
    for block in blocks:
        if realtime:  # a block is there when its last sample has been "recorded"
            wait = start + (done + block.size) / sr - clock()
            if wait > 0:
                sleep(wait)
        done += block.size
        yield block


# ---- the command ----------------------------------------------------------------------------


class _Printer:
    """One line per prediction: rewritten in place on a terminal, else one line each."""

    def __init__(self, out, *, jsonl: bool):
        self.out, self.jsonl = out, jsonl
        self.live = not jsonl and _isatty(out)
        self.width = 0

    def show(self, p: Prediction) -> None:
        if self.jsonl:
            print(json.dumps(p.to_dict(), ensure_ascii=False), file=self.out, flush=True)
        elif self.live:
            text = p.line()
            print("\r" + text.ljust(self.width), end="", file=self.out, flush=True)
            self.width = len(text)
        else:
            print(p.line(), file=self.out, flush=True)

    def close(self) -> None:
        if self.live and self.width:
            print(file=self.out, flush=True)  # end the line rewritten in place
            self.width = 0


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def run_stream(
    model,
    *,
    sr: int | None = None,
    window_s: float | None = None,
    hop_s: float | None = None,
    silence_db: float = DEFAULT_SILENCE_DB,
    file=None,
    realtime: bool = False,
    jsonl: bool = False,
    stdin=None,
    stdout=None,
    stderr=None,
    prog: str = "ser stream",
) -> str:
    """``ser stream``: recognise the emotion of raw PCM on ``stdin`` (or of ``file``) as it
    arrives, one line per hop on ``stdout``, a summary line on ``stderr``.

    Returns
    -------
    str
        How it ended: "end of input" or "interrupted" (Ctrl-C).

    Raises
    ------
    ValueError
        (features.AudioError for a file) a window shorter than the model's input, no audio
        at all, audio shorter than one window, a WAV header on stdin that announces another
        format; one line each.
    BrokenPipeError
        The reader of ``stdout`` went away; the summary is on ``stderr`` first.
    """
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    scorer = WindowScorer(model, window_s=window_s, hop_s=hop_s, silence_db=silence_db)
    model_sr = scorer.config.sample_rate
    warm_up(scorer)
    recognizer = StreamRecognizer(scorer, input_sr=model_sr if file is not None else sr)

    def warn(text: str) -> None:
        print(f"{prog}: warning: {text}", file=stderr, flush=True)

    if file is not None:
        chunks = file_chunks(file, sr=model_sr, realtime=realtime)
        source = path_for_message(file)
    else:
        if _isatty(stdin):
            raise ValueError(
                "standard input is a terminal, not audio: pipe raw 16-bit mono PCM into it "
                f"(arecord -f S16_LE -r {recognizer.input_sr} -c 1 -t raw | ser stream MODEL) or "
                "read a file with --file"
            )
        chunks = pcm_chunks(getattr(stdin, "buffer", stdin), sr=recognizer.input_sr, warn=warn)
        source = "standard input"
    printer = _Printer(stdout, jsonl=jsonl)
    ending = "end of input"
    if _isatty(stderr):  # a person is watching: say what is heard (a log gets the summary)
        print(
            f"{prog}: listening to {source} at {recognizer.input_sr} Hz: windows of "
            f"{scorer.window_seconds:.2f} s every {scorer.hop_seconds:.2f} s "
            f"({', '.join(scorer.labels)}, or silence); Ctrl-C ends",
            file=stderr,
            flush=True,
        )
    try:
        try:
            for chunk in chunks:
                for p in recognizer.push(chunk):
                    printer.show(p)
            for p in recognizer.finish():
                printer.show(p)
        except KeyboardInterrupt:
            ending = "interrupted"
        printer.close()
    except BrokenPipeError:
        print(f"{prog}: {recognizer.summary('output closed')}", file=stderr, flush=True)
        raise
    if recognizer.samples_in == 0 and ending != "interrupted":
        raise ValueError(
            f"no audio: {source} ended before its first sample; pipe raw 16-bit "
            f"little-endian mono PCM at {recognizer.input_sr} Hz into it, e.g. "
            f"arecord -f S16_LE -r {recognizer.input_sr} -c 1 -t raw | ser stream MODEL"
        )
    if recognizer.windows == 0 and ending != "interrupted":
        raise ValueError(
            f"{source} held {recognizer.seconds_heard:.2f} s of audio, shorter than one window "
            f"of {scorer.window_seconds:.2f} s: nothing to recognise"
        )
    print(f"{prog}: {recognizer.summary(ending)}", file=stderr, flush=True)
    return ending
