"""Features of a live stream: push chunks of samples, get the new frames (eqs. ST-1, ST-2).

Shape letters (docs/conventions.md): S samples, T frames, L window length, H hop, C features.

The offline functions (``features.mfcc``, ``features.log_mel``, ``features.frame_energy_db``)
see the whole signal at once. A microphone gives it a few milliseconds at a time, and a
recogniser that waits for the end hears nothing live. The classes here compute the same
numbers incrementally:

    chunks of any size --StreamingResampler (ST-2)--> chunks at the model's rate
      --StreamingFeatures (ST-1)--> the new frames of each kind, as soon as they are whole

Both keep their promise for *every* chunking (docs/streaming.md, the streaming invariant):
the concatenation of what they return equals the offline result of the whole signal, to
1e-10 in float64 (tests/features/test_streaming.py draws random chunk sizes, 1-sample chunks
and chunks shorter than a hop included). No new formula is involved: the frames are computed
by the offline functions themselves, on the buffered samples of the frames that became whole.

``read_blocks`` reads an audio file block by block with ``features.load_audio``'s checks, so a
recording of an hour is read in flat memory.
"""

from __future__ import annotations

import math
import os
from math import gcd

import numpy as np
import soundfile as sf
from scipy.signal import firwin, upfirdn

from features.audio import (
    _LIBSNDFILE_WORDS,
    MAX_ABS_SAMPLE,
    MAX_SAMPLES,
    AudioError,
    _open_regular,
    _quiet_stderr,
    check_header,
    open_sound,
)
from features.framing import n_frames, preemphasis
from features.mfcc import (
    MFCCConfig,
    _filterbank,
    _log,
    _mel_energies_fast,
    _mfcc_with_config,
)
from features.vad import frame_energy_db

__all__ = ["StreamingFeatures", "StreamingResampler", "AudioBlocks", "read_blocks", "KINDS"]

KINDS = ("mfcc", "logmel", "energy")  # the meanings of ser.pipeline.compute_features


def _finite_samples(chunk, *, offset: int, name: str = "stream") -> np.ndarray:
    """A chunk as float64 (S,), refusing another shape and NaN / Inf (naming the first, counted
    from the start of the stream)."""
    x = np.asarray(chunk, dtype=np.float64)
    if x.ndim != 1:
        raise AudioError(f"{name}: expected one channel shaped (S,), got {x.shape}; down-mix first")
    bad = ~np.isfinite(x)
    if bad.any():
        raise AudioError(
            f"{name}: has {int(bad.sum())} NaN or Inf samples (the first at sample "
            f"{offset + int(np.flatnonzero(bad)[0])})"
        )
    return x


class StreamingFeatures:
    """Incremental MFCC / log-mel / frame energy: chunks in, the frames they complete out.

    Math (docs/streaming.md, eq. ST-1, the streaming invariant)::

        concat_k push(x_k)[kind]  ++  finish()[kind]  ==  offline[kind](x_1 ++ x_2 ++ ... ++ x_K)

    for every split of a signal x into chunks x_1 .. x_K (sizes >= 0), where offline is
    ``features.mfcc_batch`` / ``features.mfcc`` for "mfcc", ``features.log_mel_batch`` /
    ``features.log_mel`` for "logmel" and ``features.frame_energy_db`` (eq. VAD-1) for "energy"
    with the same config: ``ser.pipeline.compute_features``. Frame m (eq. M2) covers samples
    [m H - p, m H - p + L) of the stream, p = L // 2 with ``center`` and 0 otherwise; it is
    emitted by the first ``push`` after which all of them have arrived (and at least L samples
    in all, the shortest signal ``features.mfcc`` accepts), or by ``finish`` when it reaches
    past the end (the zeros of ``center`` and ``pad_end``).

    Parameters
    ----------
    config : features.MFCCConfig
        The features to compute, at ``config.sample_rate`` Hz. ``top_db`` must be None: it
        floors every value at the utterance's peak minus top_db (eq. M6), a peak over samples
        that have not arrived yet, so no causal stream can reproduce it.
    kinds : sequence of {"mfcc", "logmel", "energy"}
        The kinds to compute (at least one, each once).

    Attributes
    ----------
    config : MFCCConfig
    kinds : tuple of str
    samples_seen : int
        Samples pushed so far.
    frames_emitted : int
        Frames returned so far (the same count for every kind).
    frame_seconds : float
        H / sr, seconds between frame starts.

    Raises
    ------
    ValueError
        An unknown or repeated kind, ``top_db`` set, ``energy_c0`` with a magnitude spectrum.

    Notes
    -----
    Memory is bounded: only the samples no emitted frame has consumed yet are kept (fewer
    than L + p after every ``push``, plus the chunk being processed), whatever the length of
    the stream. Pre-emphasis (eq. M1) carries the last sample of the previous chunk, so
    y'[n] = y[n] - alpha y[n - 1] holds across chunk boundaries. The frames are computed by
    the offline functions on the buffered samples of the new frames, with centre and end
    padding made explicit in the buffer: the same code as the offline path, hence the same
    numbers; only the block boundaries of the FFT and DCT batches differ, which changes
    nothing beyond rounding (measured: 0 or a few 1e-15).

    Examples
    --------
    >>> stream = StreamingFeatures(MFCCConfig(), kinds=("mfcc", "energy"))
    >>> new = stream.push(np.zeros(1000))     # doctest: +SKIP
    >>> new["mfcc"].shape, new["energy"].shape  # doctest: +SKIP
    ((4, 13), (4,))

    See Also
    --------
    StreamingResampler, ser.stream.StreamRecognizer, docs/streaming.md
    """

    def __init__(self, config: MFCCConfig, kinds=("mfcc",)):
        if not isinstance(config, MFCCConfig):
            raise TypeError(f"config must be a features.MFCCConfig, got {type(config).__name__}")
        kinds = tuple(kinds)
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds or len(set(kinds)) != len(kinds):
            raise ValueError(f"kinds must be distinct names from {KINDS}, got {list(kinds)}")
        if config.top_db is not None:
            raise ValueError(
                f"a stream cannot use top_db={config.top_db:g}: it floors every log-mel value "
                "at the peak of the whole utterance minus top_db (eq. M6), and the peak of a "
                "stream is not known until it ends; use config.replace(top_db=None)"
            )
        if config.energy_c0 and config.spectrum != "power" and "mfcc" in kinds:
            raise ValueError("energy_c0 needs spectrum='power' (it is the frame's power)")
        self.config = config
        self.kinds = kinds
        self.samples_seen = 0
        self.frames_emitted = 0
        self.frame_seconds = config.hop_length / config.sample_rate
        # the offline functions are run on buffered frames, whose padding is already in the
        # buffer and whose pre-emphasis is already applied
        self._frames_config = config.replace(center=False, pad_end=False, preemphasis=0.0)
        self._fbank = _filterbank(config)  # checked here: a bad config fails before any audio
        self._pad = config.win_length // 2 if config.center else 0
        self._emphasize = config.preemphasis != 0.0 and any(k != "energy" for k in kinds)
        self._raw = "energy" in kinds or not self._emphasize
        # the buffers hold the (centre-padded) stream from index self._start on; the leading
        # zeros of ``center`` are the first p samples of that padded stream
        self._emph = np.zeros(self._pad) if self._emphasize else None
        self._buf = np.zeros(self._pad) if self._raw else None
        self._start = 0
        self._skip = 0  # samples still to drop before the next frame (only when H > L)
        self._last = None  # the previous chunk's last sample, for eq. M1
        self._done = False

    # ---- time -------------------------------------------------------------------------------
    def frame_time(self, t):
        """Start of frame ``t`` (an int or an array of them) in seconds: (t H - p) / sr.

        p = L // 2 with ``center`` (the frame then starts before the stream, at a negative
        time, and is centred on sample t H), else 0.
        """
        c = self.config
        return (np.asarray(t) * c.hop_length - self._pad) / c.sample_rate

    # ---- the stream -------------------------------------------------------------------------
    def push(self, chunk) -> dict:
        """Feed the next samples; get the frames they complete.

        Parameters
        ----------
        chunk : array_like, shape (S_k,)
            Mono samples at ``config.sample_rate`` Hz, full-scale units; any length, 0 and 1
            included.

        Returns
        -------
        dict kind -> ndarray
            (n_new, C) for "mfcc" (C = n_mfcc) and "logmel" (C = n_mels), (n_new,) dBFS for
            "energy", float64; n_new >= 0 is the same for every kind.

        Raises
        ------
        AudioError
            A chunk of another shape, or with NaN / Inf samples (numbered from the start of
            the stream). The stream is left as it was.
        RuntimeError
            After ``finish``.
        """
        if self._done:
            raise RuntimeError("StreamingFeatures.push after finish(): start a new stream")
        x = _finite_samples(chunk, offset=self.samples_seen)
        if x.size == 0:
            return self._empty()
        if self._emphasize:
            a = self.config.preemphasis
            if self._last is None:  # the stream's first sample is kept as it is (eq. M1)
                e = preemphasis(x, coeff=a)
            else:  # eq. M1 across the chunk boundary: the previous chunk's last sample first
                e = preemphasis(np.concatenate(([self._last], x)), coeff=a)[1:]
        self._last = x[-1]
        self.samples_seen += x.size
        drop = min(self._skip, x.size)  # samples between two frames when H > L: never used
        self._skip -= drop
        self._start += drop
        if self._raw:
            self._buf = np.concatenate((self._buf, x[drop:]))
        if self._emphasize:
            self._emph = np.concatenate((self._emph, e[drop:]))
        c = self.config
        if self.samples_seen < c.win_length:  # features.mfcc refuses a shorter signal
            return self._empty()
        # frame m is whole when m H + L <= p + S (padded stream, eq. M2)
        whole = (self._pad + self.samples_seen - c.win_length) // c.hop_length + 1
        return self._emit(whole)

    def finish(self) -> dict:
        """End the stream: the frames only the end can give (the right-hand zeros of
        ``center``, the zero-padded last frame of ``pad_end``), as ``push`` returns them.

        Raises
        ------
        AudioError
            If the stream held no sample, or fewer than one frame (L samples): the offline
            functions refuse such a signal, with the same message.
        RuntimeError
            On a second call.
        """
        if self._done:
            raise RuntimeError("StreamingFeatures.finish called twice")
        self._done = True
        c = self.config
        if self.samples_seen == 0:
            raise AudioError("signal: has zero samples")
        if self.samples_seen < c.win_length:
            ms = 1000.0 * c.win_length / c.sample_rate
            raise AudioError(
                f"signal: {self.samples_seen} samples is shorter than one analysis frame of "
                f"{c.win_length} samples ({ms:g} ms at {c.sample_rate:g} Hz)"
            )
        padded = 2 * self._pad + self.samples_seen
        total = n_frames(
            padded, win_length=c.win_length, hop_length=c.hop_length, pad_end=c.pad_end
        )  # eq. M2-count on the padded length, as frame_view counts
        out = self._emit(total)
        self._emph = self._buf = None
        return out

    # ---- internals --------------------------------------------------------------------------
    def _empty(self) -> dict:
        widths = {"mfcc": (self.config.n_mfcc,), "logmel": (self.config.n_mels,), "energy": ()}
        return {k: np.empty((0, *widths[k])) for k in self.kinds}

    def _segment(self, buf, begin, stop):
        """Padded-stream samples [begin, stop): from the buffer, zeros past its end (the end
        padding of ``center`` and ``pad_end``)."""
        seg = buf[begin - self._start : stop - self._start]
        if seg.size < stop - begin:
            seg = np.concatenate((seg, np.zeros(stop - begin - seg.size)))
        return seg

    def _emit(self, upto: int) -> dict:
        """Frames self.frames_emitted .. upto - 1, computed offline on their samples."""
        if upto <= self.frames_emitted:
            return self._empty()
        c = self.config
        # the buffer starts at the next frame's first sample, or (H > L, at the end) before it
        begin = self.frames_emitted * c.hop_length
        stop = (upto - 1) * c.hop_length + c.win_length
        raw = self._segment(self._buf, begin, stop) if self._raw else None
        emph = self._segment(self._emph, begin, stop) if self._emphasize else raw
        fc = self._frames_config
        out = {}
        for kind in self.kinds:
            if kind == "mfcc":  # the body of features.mfcc (M1 done, padding in the buffer)
                out[kind] = _mfcc_with_config(emph, fc, threads=1)
            elif kind == "logmel":  # the body of features.log_mel_batch
                out[kind] = _log(_mel_energies_fast(emph, fc, self._fbank, threads=1)[0], fc)
            else:  # eq. VAD-1 on the raw samples, as features.frame_energy_db
                out[kind] = frame_energy_db(raw, config=fc)
        self.frames_emitted = upto
        # keep only what the next frame needs: from its first sample on
        nxt = upto * c.hop_length
        end = self._pad + self.samples_seen
        keep_from = min(nxt, end) - self._start
        if self._raw:
            self._buf = self._buf[keep_from:].copy()
        if self._emphasize:
            self._emph = self._emph[keep_from:].copy()
        self._start += keep_from
        self._skip = nxt - self._start  # > 0 only when H > L: samples no frame reads
        return out


def _resample_filter(up: int, down: int) -> tuple[np.ndarray, int]:
    """The FIR filter of ``scipy.signal.resample_poly(x, up, down)`` (default Kaiser window,
    beta 5) with its leading zeros, and the number of outputs it removes at the start.

    Written as scipy 1.17 builds it (``_signaltools.resample_poly``); the test that compares
    ``StreamingResampler`` with ``features.resample`` fails if scipy ever changes it. The
    trailing zeros scipy adds only lengthen its output: the streaming side gives zeros there.
    """
    max_rate = max(up, down)
    half_len = 10 * max_rate  # scipy's "reasonable cutoff for sinc-like function"
    h = firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * up
    n_pre_pad = down - half_len % down  # puts the output samples at the centre
    n_pre_remove = (half_len + n_pre_pad) // down
    return np.concatenate((np.zeros(n_pre_pad), h)), n_pre_remove


class StreamingResampler:
    """Resampling by target_sr / orig_sr, chunk by chunk, equal to ``features.resample`` of
    the whole signal (eq. ST-2).

    Math (docs/streaming.md, eq. ST-2). ``scipy.signal.resample_poly`` (behind
    ``features.resample``) with up/down = target_sr/orig_sr in lowest terms is a zero-padded
    polyphase FIR filter h of length N_h::

        u[i up] = x[i],  u = 0 elsewhere                       (upsample)
        v[k]    = sum_j h[j] u[k down - j]                     (filter, keep every down-th)
        out[n]  = v[n + r],   n = 0 .. ceil(S up / down) - 1   (r outputs of delay removed)

    so v[k] reads only x[i] with k down - N_h < i up <= k down: output n is final as soon as
    input floor((n + r) down / up) has arrived, and inputs older than the first one the next
    output reads can be dropped.

    Parameters
    ----------
    orig_sr, target_sr : int
        Hz, > 0.

    Attributes
    ----------
    up, down : int
        The factor in lowest terms (44100 -> 16000: 160 / 441).
    samples_in, samples_out : int
        Samples pushed, and returned, so far.

    Notes
    -----
    Every output is computed by ``scipy.signal.upfirdn``, the function ``resample_poly`` calls,
    on the buffered inputs, aligned so that both see the same filter phase: the numbers are
    the same (the tests find them equal to the last bit). The buffer holds about N_h / up +
    down input samples (about 60 + 441 for 44.1 -> 16 kHz) besides the chunk being pushed. The same
    rate passes the samples through, as ``features.resample`` returns them unchanged.
    """

    def __init__(self, orig_sr: int, target_sr: int):
        for name, rate in (("orig_sr", orig_sr), ("target_sr", target_sr)):
            if int(rate) != rate or rate <= 0:
                raise ValueError(f"{name} must be a whole number of Hz > 0, got {rate}")
        self.orig_sr, self.target_sr = int(orig_sr), int(target_sr)
        g = gcd(self.orig_sr, self.target_sr)
        self.up, self.down = self.target_sr // g, self.orig_sr // g
        self.samples_in = self.samples_out = 0
        self._done = False
        if self.up == self.down:
            return
        self._h, self._delay = _resample_filter(self.up, self.down)
        self._x = np.zeros(0)  # inputs from index self._s0 on; s0 is a multiple of down
        self._s0 = 0
        self._next = self._delay  # the next v[k] to return (out[n] = v[n + r])

    def push(self, chunk) -> np.ndarray:
        """Feed input samples at ``orig_sr``; get the output samples they make final.

        Parameters
        ----------
        chunk : array_like, shape (S_k,)

        Returns
        -------
        ndarray, shape (n_new,), float64, at ``target_sr``.
        """
        if self._done:
            raise RuntimeError("StreamingResampler.push after finish(): start a new stream")
        x = _finite_samples(chunk, offset=self.samples_in)
        self.samples_in += x.size
        if self.up == self.down:
            self.samples_out += x.size
            return x.copy()
        if x.size:
            self._x = np.concatenate((self._x, x))
        # v[k] is final when its newest input, floor(k down / up), has arrived
        last = (self.samples_in * self.up - 1) // self.down
        return self._outputs(last + 1)

    def finish(self) -> np.ndarray:
        """End the stream: the last outputs, which read the zeros past the end."""
        if self._done:
            raise RuntimeError("StreamingResampler.finish called twice")
        self._done = True
        if self.up == self.down:
            return np.zeros(0)
        n_out = -(-self.samples_in * self.up // self.down)  # ceil(S up / down)
        out = self._outputs(n_out + self._delay)
        self._x = None
        return out

    def _outputs(self, stop: int) -> np.ndarray:
        """v[self._next .. stop - 1] from the buffered inputs, then drop the unneeded ones."""
        if stop <= self._next:
            return np.zeros(0)
        got = np.zeros(0)
        if self._x.size:
            v = upfirdn(self._h, self._x, self.up, self.down)  # the call resample_poly makes
            base = self._s0 * self.up // self.down  # v index of the buffer's first output
            got = v[self._next - base : stop - base]
        if got.size < stop - self._next:  # beyond the filter's reach: scipy's zero padding
            got = np.concatenate((got, np.zeros(stop - self._next - got.size)))
        self._next = stop
        # the oldest input v[next] reads is ceil((next down - N_h + 1) / up); keep from the
        # multiple of ``down`` at or below it, so the buffer's phase stays the one scipy uses
        oldest = max(0, -(-(self._next * self.down - self._h.size + 1) // self.up))
        s0 = min(oldest // self.down * self.down, self.samples_in // self.down * self.down)
        if s0 > self._s0:
            self._x = self._x[s0 - self._s0 :].copy()
            self._s0 = s0
        self.samples_out += got.size
        return got


class AudioBlocks:
    """The samples of an audio file, block by block: mono float64 at ``sr`` (see
    ``read_blocks``). Iterate over it once; use it as a context manager (or call ``close``)
    to release the file early."""

    def __init__(self, path, *, sr: int | None, block_seconds: float = 1.0):
        self._fd = self._sound = None  # close() works whatever fails below
        if not (isinstance(block_seconds, int | float) and 0 < block_seconds < math.inf):
            raise ValueError(f"block_seconds must be a positive number, got {block_seconds!r}")
        if sr is not None and (int(sr) != sr or sr <= 0):
            raise ValueError(f"sr must be a whole number of Hz > 0, got {sr}")
        fd, st, name = _open_regular(path)  # missing, folder, FIFO, empty: AudioError
        self._fd, self.name = fd, name
        try:
            self._sound = self._open(fd, st.st_size, name)
        except OSError as err:  # an I/O error while the headers are read
            self.close()
            raise AudioError(
                f"{name}: cannot be read ({(err.strerror or str(err)).lower()})"
            ) from None
        except BaseException:
            self.close()
            raise
        self.native_sr = int(self._sound.samplerate)
        self.sr = self.native_sr if sr is None else int(sr)
        self.channels = int(self._sound.channels)
        self.frames = int(self._sound.frames)  # what the header promises (an estimate for MP3)
        self.block_frames = max(1, int(round(block_seconds * self.native_sr)))
        self._started = False

    @staticmethod
    def _open(fd, size, name):
        """``load_audio``'s checks on the header, in its order and with its words."""
        sound, problem = open_sound(fd, size, name)  # load_audio's opening and words
        try:
            check_header(sound, name, size, problem)  # and its checks, before any sample
        except BaseException:
            sound.close()
            raise
        return sound

    def close(self) -> None:
        """Release the file (idempotent)."""
        sound = getattr(self, "_sound", None)
        if sound is not None:
            sound.close()
            self._sound = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def __iter__(self):
        if self._started:
            raise RuntimeError(f"{self.name}: its blocks can be read once; open it again")
        self._started = True
        try:
            yield from self._blocks()
        finally:
            self.close()

    def _read(self) -> np.ndarray:
        try:
            with _quiet_stderr(self._sound.format == "MP3"):
                return self._sound.read(self.block_frames, dtype="float64", always_2d=True)
        except sf.LibsndfileError as err:  # the header was fine, the samples after it are not
            words = _LIBSNDFILE_WORDS.get(err.error_string, err.error_string.rstrip("."))
            raise AudioError(f"{self.name}: corrupt or truncated audio data ({words})") from None
        except RuntimeError as err:
            raise AudioError(f"{self.name}: corrupt or truncated audio data ({err})") from None

    def _blocks(self):
        name = self.name
        resampler = (
            None if self.sr == self.native_sr else StreamingResampler(self.native_sr, self.sr)
        )
        total = 0
        while True:
            block = self._read()
            if block.shape[0] == 0:
                break
            bad = ~np.isfinite(block)
            if bad.any():  # the wording of check_signal, numbered in the whole file
                first = total + int(np.flatnonzero(bad.any(axis=1))[0])
                raise AudioError(f"{name}: has NaN or Inf samples (the first at sample {first})")
            peak = float(np.max(np.abs(block)))
            if peak > MAX_ABS_SAMPLE:
                at = total + int(np.argmax(np.abs(block).max(axis=1)))
                raise AudioError(
                    f"{name}: sample {at} is {peak:.3g}, beyond any recording (full scale is 1; "
                    "the limit is 2^31): a damaged or hostile float file"
                )
            total += block.shape[0]
            if total * self.channels > MAX_SAMPLES:
                raise AudioError(
                    f"{name}: decodes to more than {MAX_SAMPLES} samples, over the limit "
                    "(MAX_SAMPLES or max_seconds)"
                )
            y = block.mean(axis=1)  # down-mix: the average keeps full scale at full scale
            if resampler is not None:
                y = resampler.push(y)
            if y.size:
                yield y
        if total == 0:
            raise AudioError(f"{name}: has zero samples")
        slack = max(4 * 1152, self.frames // 100) if self._sound.format == "MP3" else 0
        if total < self.frames - slack:  # libsndfile read less than the header promised
            raise AudioError(
                f"{name}: truncated: the header promises {self.frames} samples, the file "
                f"holds {total}"
            )
        if resampler is not None:
            tail = resampler.finish()
            if tail.size:
                yield tail


def read_blocks(path, *, sr: int | None, block_seconds: float = 1.0) -> AudioBlocks:
    """Read an audio file block by block, mono, at ``sr`` Hz, in flat memory.

    The concatenation of the blocks equals ``features.load_audio(path, sr=sr)[0]`` (the
    down-mix is the same average, the resampling is ``StreamingResampler``, eq. ST-2), but
    only one block of the file is in memory at a time: an hour of audio costs what a second
    does.

    Parameters
    ----------
    path : str, bytes or os.PathLike
    sr : int or None
        Hz of the blocks; None keeps the file's rate.
    block_seconds : float
        Seconds of the file read at a time (> 0). A resampled block may be a few samples
        shorter or longer: the resampler returns what is final.

    Returns
    -------
    AudioBlocks
        An iterable of ndarray (S_b,) float64 blocks (never empty), with ``name``,
        ``native_sr``, ``sr``, ``channels`` and ``frames`` (the length the header promises,
        in samples at ``native_sr``).

    Raises
    ------
    AudioError
        Here, naming the file, for everything ``load_audio`` refuses on the header: missing,
        a folder, not a regular file, empty, not audio, a damaged header, a sample rate
        outside 1 kHz .. 768 kHz, over ``MAX_SAMPLES``, truncated according to its header.
        While iterating, for what the samples show: a decode error, NaN / Inf, a sample
        beyond +-``MAX_ABS_SAMPLE``, zero samples in all, fewer samples than the header
        promised (said after the blocks before it were given out: a stream cannot take
        back what it has given).
    """
    return AudioBlocks(path, sr=sr, block_seconds=block_seconds)
