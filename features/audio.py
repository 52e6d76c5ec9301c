"""Reading and writing audio files: every bad file gives one clear error naming it.

Shape letters (docs/conventions.md): S samples, K channels.

A waveform in this project is a float64 array of shape (S,) in full-scale units (integer PCM is
scaled to [-1, 1), float files are read as stored), at a sample rate in Hz.

``load_audio`` treats every file as possibly hostile (docs/reliability.md, "Audio files"): it
refuses what is not a regular file, checks the header (sample rate, sample count, and that the
file really holds what its header promises) before it allocates anything for the samples, and
checks the decoded samples (decode errors, short reads, NaN, absurd values). Each refusal is
one ``AudioError`` naming the file and saying what is wrong in words.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import struct
import sys
from collections.abc import Callable
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

__all__ = [
    "AudioError",
    "load_audio",
    "save_audio",
    "write_audio",
    "check_signal",
    "resample",
    "open_audio_file",
    "path_for_message",
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MAX_SAMPLES",
    "MAX_ABS_SAMPLE",
]

MIN_SAMPLE_RATE = 1_000
"""Hz. The lowest rate ``load_audio`` accepts without ``allow_any_rate=True``: below it nothing
of speech survives (telephone speech is 8 kHz), so a lower rate is a damaged header."""

MAX_SAMPLE_RATE = 768_000
"""Hz. The highest rate ``load_audio`` accepts without ``allow_any_rate=True``: 768 kHz is the
highest rate audio interfaces record. A header claiming 2^31 - 1 Hz would otherwise build
filters (resampling, an FFT sized for the rate) of gigabytes."""

MAX_SAMPLES = 2**31
"""Frames x channels above which ``load_audio`` refuses a file before reading it: 2^31 samples
are 16 GiB as float64 (37 hours of 16 kHz mono), beyond any recording this course reads and
beyond the 32-bit sample counters of most formats, so a larger claim is a damaged or hostile
header. ``max_seconds`` sets a tighter limit where the application knows one."""

MAX_ABS_SAMPLE = 2.0**31
"""The largest magnitude a decoded sample may have. Integer PCM is scaled to [-1, 1); float
files hold full-scale values near +-1, sometimes integer-scaled ones (+-32768, +-2^31) from
tools that forget to scale. Anything larger (a float WAV of 1e300) is no recording, and its
squares overflow to inf in the power spectrum, giving NaN features."""

_READ_BLOCK = 1 << 16  # frames per read when the decoded length is not known in advance
_MAX_CHUNKS = 10_000  # header chunks walked before a container's payload is given up on

# bytes per sample of the subtypes whose size is fixed (the file must hold them all)
_PCM_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4,
              "DOUBLE": 8, "ULAW": 1, "ALAW": 1}  # fmt: skip

# libsndfile's messages for a file it cannot open, said in words a user can act on
_LIBSNDFILE_WORDS = {
    "Format not recognised.": "its contents are in no audio format libsndfile reads "
    "(WAV, FLAC, OGG, AIFF, MP3, ...)",
    "Supported file format but file is malformed.": "its header is damaged, or the file is "
    "cut short",
    "File contains data in an unimplemented format.": "its samples are in an encoding "
    "libsndfile cannot decode",
    "File does not exist or is not a regular file (possibly a pipe?).": "its contents are in "
    "no audio format libsndfile reads, or its header is damaged",
    "System error.": "the operating system could not read it",
    "Channel count is zero.": "its header says it has zero channels",
    "Internal psf_fseek() failed.": "the file ends before the samples its header promises",
}

# the first bytes of every format libsndfile recognises by a signature (sndfile.c,
# guess_file_type); MPEG has none, so an MP3 must start with an ID3 tag or a frame header
_SIGNATURES = (b"RIFF", b"RIFX", b"RF64", b"riff", b"FORM", b".snd", b"dns.", b"fap ", b" paf",
               b"NIST", b"Crea", b"MATL", b"Exte", b"2BIT", b"PVF1", b"caff", b"fLaC", b"OggS",
               b"ALaw", b"ID3")  # fmt: skip


class AudioError(ValueError):
    """A file or signal that cannot be used as audio; the message names it and what was wrong."""


def path_for_message(path) -> str:
    """A file name as text any terminal can print, for error messages.

    Bytes of a name that are not UTF-8 (a name made on another system) become ``\\xNN``
    escapes instead of raising ``UnicodeEncodeError`` when the message is printed.
    """
    try:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    except (TypeError, UnicodeError):
        return repr(path)


def _os_error_words(err: OSError, raw: bytes) -> str:
    """What an ``OSError`` from opening ``raw`` means, in words."""
    if err.errno == errno.ENOENT:
        if os.path.islink(raw):
            target = path_for_message(os.readlink(raw))
            return f"is a symbolic link to {target}, which does not exist"
        return "no such file"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "cannot be read: permission denied"
    if err.errno == errno.ENAMETOOLONG:
        longest = max((len(part) for part in raw.split(b"/")), default=0)
        return (
            f"its name is too long for the file system ({longest} bytes in one name, "
            f"{len(raw)} in the path; most systems allow 255 and 4096)"
        )
    if err.errno == errno.ELOOP:
        return "is a loop of symbolic links"
    if err.errno == errno.ENOTDIR:
        return "a folder on its path is a file"
    return f"cannot be opened ({(err.strerror or 'unknown error').lower()})"


_KINDS = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}  # fmt: skip


def _open_regular(path) -> tuple[int, os.stat_result, str]:
    """Open ``path`` for reading as a raw descriptor, refusing all but a non-empty regular file.

    The file is opened without blocking (``O_NONBLOCK``), so a FIFO with no writer is
    refused at once instead of hanging, and its type is read from the open descriptor
    (``fstat``), so it cannot change between the check and the read.
    """
    name = path_for_message(path)
    try:
        raw = os.fsencode(path)
    except (TypeError, UnicodeError) as err:
        raise AudioError(f"{name}: not a usable file name ({err})") from None
    try:
        before = os.stat(raw)
        if stat.S_ISDIR(before.st_mode):  # say so before open(): Windows refuses a folder
            raise AudioError(f"{name}: is a folder, not an audio file")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(raw, flags)
    except OSError as err:
        raise AudioError(f"{name}: {_os_error_words(err, raw)}") from None
    try:
        st = os.fstat(fd)
        kind = stat.S_IFMT(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            raise AudioError(f"{name}: is a folder, not an audio file")
        if not stat.S_ISREG(st.st_mode):
            what = _KINDS.get(kind, "something else")
            raise AudioError(f"{name}: not a regular file but {what}; audio is read from files")
        if st.st_size == 0:
            raise AudioError(f"{name}: is empty (0 bytes)")
    except BaseException:
        os.close(fd)
        raise
    return fd, st, name


def open_audio_file(path):
    """Open an audio file for reading its bytes, with ``load_audio``'s checks and messages.

    Returns
    -------
    file object (binary, read-only) of a non-empty regular file.

    Raises
    ------
    AudioError
        Naming the file, if it is missing, a dangling symbolic link, a folder, a FIFO or a
        device, empty, unreadable (permission denied) or its name is too long.
    """
    fd, _, _ = _open_regular(path)
    return os.fdopen(fd, "rb")


def check_signal(y: np.ndarray, *, name: str = "signal") -> np.ndarray:
    """Return ``y`` as a float64 array after checking it holds usable samples.

    Parameters
    ----------
    y : array_like, shape (S,) or (S, K)
        Samples in full-scale units.
    name : str
        What to call the signal in an error message (a file name, or "signal").

    Returns
    -------
    y : ndarray, float64, same shape

    Raises
    ------
    AudioError
        If ``y`` has no samples, more than two dimensions, or NaN / Inf values.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim not in (1, 2):
        raise AudioError(f"{name}: expected samples shaped (S,) or (S, K), got shape {y.shape}")
    if y.shape[0] == 0:
        raise AudioError(f"{name}: has zero samples")
    bad = ~np.isfinite(y)
    if bad.any():
        first = int(np.flatnonzero(bad.reshape(y.shape[0], -1).any(axis=1))[0])
        raise AudioError(
            f"{name}: has {int(bad.sum())} NaN or Inf samples (the first at sample {first})"
        )
    return y


def resample(y: np.ndarray, *, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along axis 0 by the rational factor target_sr / orig_sr.

    Uses ``scipy.signal.resample_poly`` (polyphase FIR with a Kaiser window), reducing the
    factor by the greatest common divisor first: 44100 -> 16000 is up 160, down 441.

    Parameters
    ----------
    y : ndarray, shape (S,) or (S, K)
    orig_sr, target_sr : int
        Sample rates in Hz.

    Returns
    -------
    ndarray, shape (ceil(S * target_sr / orig_sr),) or with K columns, float64
    """
    if orig_sr == target_sr:
        return y
    g = gcd(int(orig_sr), int(target_sr))
    return resample_poly(y, int(target_sr) // g, int(orig_sr) // g, axis=0)


# ---- what the container's own header promises ---------------------------------------------
# libsndfile silently shortens a PCM file whose payload is cut off (it counts the frames the
# file holds, not those the header declares), and reads an Ogg stream cut at a page boundary
# as a shorter stream. So the headers of the common containers are read here, to compare
# what they promise with what the file holds. Each returns a problem in words, or None.


def _reader(fd: int) -> Callable[[int, int], bytes]:
    if hasattr(os, "pread"):
        return lambda offset, n: os.pread(fd, n, offset)

    def read_at(offset: int, n: int) -> bytes:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, n)

    return read_at


def _check_wav_fmt(fmt: bytes, endian: str) -> str | None:
    """A ``fmt `` chunk whose sample size cannot be right (a WAV claiming 7 bits per sample)."""
    if len(fmt) < 16:
        return "its WAV fmt chunk is shorter than 16 bytes"
    tag, channels, _, _, block, bits = struct.unpack(endian + "HHIIHH", fmt[:16])
    extensible = tag == 0xFFFE and len(fmt) >= 26
    if extensible:
        valid_bits, _, sub = struct.unpack(endian + "HIH", fmt[18:26])
        tag = sub  # the first two bytes of the SubFormat GUID are the format tag
        if not 0 < valid_bits <= bits:
            return f"its WAV header claims {valid_bits} valid bits in {bits}-bit samples"
    if tag not in (1, 3):  # PCM and IEEE float; ADPCM, u-law, GSM... have their own rules
        return None
    if tag == 1 and (bits == 0 or bits % 8 or bits > 32):
        return (
            f"its WAV header claims {bits} bits per sample; PCM WAV stores 8, 16, 24 or 32 "
            "(WAVE_FORMAT_EXTENSIBLE says how many of them are valid): a damaged header"
        )
    if tag == 3 and bits not in (32, 64):
        return f"its WAV header claims {bits}-bit floating-point samples; only 32 and 64 exist"
    if channels and block != channels * bits // 8:
        return (
            f"its WAV header claims blocks of {block} bytes, but {channels} channel(s) of "
            f"{bits} bits take {channels * bits // 8}"
        )
    return None


def _riff_problem(read_at, size: int) -> str | None:
    """RIFF/RIFX/RF64 WAVE: a sample size that cannot be right, or a ``data`` chunk cut off.

    Streaming writers put 0 or 0xFFFFFFFF in the size when they do not know it: those files
    are read as far as they go. RF64 keeps the real size in its ``ds64`` chunk.
    """
    head = read_at(0, 12)
    if len(head) < 12 or head[8:12] != b"WAVE":
        return None
    endian = ">" if head[:4] == b"RIFX" else "<"
    offset, ds64_data, block = 12, None, 1
    for _ in range(_MAX_CHUNKS):
        if offset + 8 > size:
            return None
        chunk_id, chunk_size = struct.unpack(endian + "4sI", read_at(offset, 8))
        if chunk_id == b"ds64":
            ds = read_at(offset + 8, 24)
            if len(ds) == 24:
                ds64_data = struct.unpack("<QQQ", ds)[1]
        elif chunk_id == b"fmt ":
            fmt = read_at(offset + 8, min(chunk_size, 40))
            problem = _check_wav_fmt(fmt, endian)
            if problem:
                return problem
            block = max(1, struct.unpack(endian + "H", fmt[12:14])[0])
        elif chunk_id == b"data":
            declared = chunk_size
            if head[:4] == b"RF64" and chunk_size == 0xFFFFFFFF and ds64_data is not None:
                declared = ds64_data
            held = size - (offset + 8)
            if declared not in (0, 0xFFFFFFFF) and held + block <= declared:
                return (
                    f"truncated: the WAV header promises {declared} bytes of samples, "
                    f"the file holds {held}"
                )
            return None
        offset += 8 + chunk_size + (chunk_size & 1)  # chunks are padded to even length
    return None


def _w64_problem(read_at, size: int) -> str | None:
    """Sony Wave64: 16-byte chunk GUIDs, 64-bit sizes that include the 24-byte chunk header."""
    offset = 40  # riff GUID, 8-byte size, wave GUID
    for _ in range(_MAX_CHUNKS):
        head = read_at(offset, 24)
        if len(head) < 24:
            return None
        chunk_size = struct.unpack("<Q", head[16:24])[0]
        if head[:4] == b"data":
            declared, held = chunk_size - 24, size - (offset + 24)
            if held < declared - 8:  # allow the 8-byte alignment padding
                return (
                    f"truncated: the W64 header promises {declared} bytes of samples, "
                    f"the file holds {held}"
                )
            return None
        if chunk_size < 24:
            return None
        offset += (chunk_size + 7) // 8 * 8
    return None


_AIFC_BYTES = {
    b"NONE": None,
    b"twos": None,
    b"sowt": None,
    b"raw ": None,
    b"in24": 3,
    b"in32": 4,
    b"fl32": 4,
    b"FL32": 4,
    b"fl64": 8,
    b"FL64": 8,
    b"ulaw": 1,
    b"ULAW": 1,
    b"alaw": 1,
    b"ALAW": 1,
}  # fmt: skip  (None: from the bit depth)


def _aiff_problem(read_at, size: int) -> str | None:
    """AIFF/AIFC: the ``COMM`` chunk's frame count, and the ``SSND`` chunk's size, against the
    bytes the file holds (an AIFF whose header claims more frames than it holds)."""
    head = read_at(0, 12)
    if len(head) < 12 or head[8:12] not in (b"AIFF", b"AIFC"):
        return None
    offset, comm, ssnd = 12, None, None
    for _ in range(_MAX_CHUNKS):
        if offset + 8 > size or (comm and ssnd):
            break
        chunk_id, chunk_size = struct.unpack(">4sI", read_at(offset, 8))
        if chunk_id == b"COMM":
            comm = read_at(offset + 8, min(chunk_size, 22))
        elif chunk_id == b"SSND":
            sound_offset = struct.unpack(">I", read_at(offset + 8, 4).ljust(4, b"\0"))[0]
            start = offset + 16 + sound_offset
            declared = chunk_size - 8 - sound_offset
            ssnd = (declared, size - start)
        offset += 8 + chunk_size + (chunk_size & 1)
    if ssnd is None:
        return None
    declared, held = ssnd
    if held < declared:
        return (
            f"truncated: the AIFF header promises {declared} bytes of samples, "
            f"the file holds {held}"
        )
    if comm is None or len(comm) < 8:
        return None
    channels, frames, bits = struct.unpack(">hIh", comm[:8])
    compression = comm[18:22] if head[8:12] == b"AIFC" and len(comm) >= 22 else b"NONE"
    if compression not in _AIFC_BYTES or channels <= 0 or bits <= 0:
        return None  # a compressed AIFC: its frames are checked when decoded
    width = _AIFC_BYTES[compression] or (bits + 7) // 8
    needed = frames * channels * width
    if min(declared, held) < needed:
        return (
            f"truncated: the AIFF header promises {frames} frames ({needed} bytes of "
            f"samples), the file holds {min(declared, held)} bytes"
        )
    return None


def _au_problem(read_at, size: int) -> str | None:
    """Sun/NeXT .au: a data size (0xFFFFFFFF: unknown) after a header of a stated length."""
    head = read_at(0, 12)
    endian = ">" if head[:4] == b".snd" else "<"
    data_offset, declared = struct.unpack(endian + "II", head[4:12])
    held = size - data_offset
    if declared != 0xFFFFFFFF and held < declared:
        return (
            f"truncated: the AU header promises {declared} bytes of samples, "
            f"the file holds {max(held, 0)}"
        )
    return None


def _nist_problem(read_at, size: int) -> str | None:
    """NIST SPHERE (TIMIT): ``sample_count`` x ``channel_count`` x ``sample_n_bytes`` after a
    text header whose length is on its second line."""
    text = read_at(0, 4096).decode("latin-1")
    lines = text.split("\n")
    fields = dict(re.findall(r"^(\w+) -i (\d+)\s*$", text.split("end_head")[0], re.MULTILINE))
    coding = re.search(r"^sample_coding -s\d+ (\S+)", text, re.MULTILINE)
    if len(lines) < 2 or not lines[1].strip().isdigit() or "sample_count" not in fields:
        return None
    if coding and coding.group(1) not in ("pcm", "ulaw", "alaw"):
        return None  # shorten-compressed: checked when decoded
    needed = (
        int(fields["sample_count"])
        * int(fields.get("channel_count", 1))
        * int(fields.get("sample_n_bytes", 2))
    )
    held = size - int(lines[1])
    if held < needed:
        return (
            f"truncated: the NIST header promises {needed} bytes of samples, "
            f"the file holds {max(held, 0)}"
        )
    return None


def _ogg_problem(read_at, size: int) -> str | None:
    """Ogg: walk the pages; the file must end with the end-of-stream page of each stream.

    A Vorbis or Opus file cut in half otherwise reads as a shorter sound without a word
    (libsndfile takes the length from the last page it finds). Only page headers are read.
    """
    offset, started, ended = 0, set(), set()
    while offset < size:
        head = read_at(offset, 27)
        if len(head) < 27:
            return f"truncated: the file ends inside the header of an Ogg page at byte {offset}"
        if head[:4] != b"OggS":
            return f"damaged: bytes {offset}.. are not an Ogg page"
        flags, serial, n_segments = head[5], head[14:18], head[26]
        table = read_at(offset + 27, n_segments)
        end = offset + 27 + n_segments + sum(table)
        if len(table) < n_segments or end > size:
            return (
                f"truncated: its last Ogg page (at byte {offset}) needs {end - offset} bytes, "
                f"the file holds {size - offset}"
            )
        if flags & 0x02:
            started.add(serial)
        if flags & 0x04:
            ended.add(serial)
        offset = end
    if started - ended or not ended:
        return "truncated: the Ogg stream stops without its end-of-stream page"
    return None


def _container_problem(fd: int, size: int) -> str | None:
    """What the container's header promises and the file does not hold, in words, or None."""
    read_at = _reader(fd)
    magic = read_at(0, 4)
    if magic in (b"RIFF", b"RIFX", b"RF64"):
        return _riff_problem(read_at, size)
    if magic == b"riff" and read_at(24, 4) == b"wave":
        return _w64_problem(read_at, size)
    if magic == b"FORM":
        return _aiff_problem(read_at, size)
    if magic in (b".snd", b"dns.") and size >= 24:
        return _au_problem(read_at, size)
    if magic == b"OggS":
        return _ogg_problem(read_at, size)
    if magic == b"NIST":
        return _nist_problem(read_at, size)
    return None


def _mpeg_frame_header(head: bytes) -> bool:
    """True if ``head`` starts with a valid MPEG audio frame header (11 sync bits, and a
    version, layer, bit rate and sample rate that are not reserved)."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    return version != 1 and layer != 0 and head[2] >> 4 != 15 and (head[2] >> 2) & 3 != 3


@contextlib.contextmanager
def _quiet_stderr(quiet: bool):
    """Send file descriptor 2 to the null device while libsndfile opens or decodes what may
    be MPEG: libmpg123 prints its guesses and warnings there, from C ("Note: Illegal
    Audio-MPEG-Header", "Xing stream size off"), stray lines amid the tool's own output.
    Python's ``sys.stderr`` is flushed first; nothing else writes while libsndfile runs."""
    if not quiet:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no stderr to protect
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _pcm_width(sound: sf.SoundFile) -> int | None:
    """Bytes per sample of uncompressed samples (FLAC reports its depth as "PCM_16" too)."""
    return None if sound.format in ("FLAC", "OGG") else _PCM_BYTES.get(sound.subtype)


def _read_samples(sound: sf.SoundFile, *, frames: int, limit: int, name: str) -> np.ndarray:
    """All the frames of an open file as float64 (S, K), never allocating more than it holds.

    PCM of a known, checked length is read in one call. Anything else (FLAC, Vorbis, Opus,
    MP3, ADPCM, GSM) is decoded block by block, so a header that claims 2^36 frames costs
    only what the file really decodes to, and decoding stops past ``limit`` samples.
    """
    try:
        if _pcm_width(sound) and sound.seekable():
            return sound.read(frames, dtype="float64", always_2d=True)
        blocks, total = [], 0
        while True:
            block = sound.read(_READ_BLOCK, dtype="float64", always_2d=True)
            if block.shape[0] == 0:
                break
            blocks.append(block)
            total += block.size
            if total > limit:
                raise AudioError(
                    f"{name}: decodes to more than {limit} samples, over the limit "
                    "(MAX_SAMPLES or max_seconds)"
                )
    except sf.LibsndfileError as err:  # the header was fine, the samples after it are not
        words = _LIBSNDFILE_WORDS.get(err.error_string, err.error_string.rstrip("."))
        raise AudioError(f"{name}: corrupt or truncated audio data ({words})") from None
    except RuntimeError as err:
        raise AudioError(f"{name}: corrupt or truncated audio data ({err})") from None
    if not blocks:
        return np.zeros((0, sound.channels))
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def load_audio(
    path,
    *,
    sr: int | None = 16000,
    mono: bool = True,
    max_seconds: float | None = None,
    allow_any_rate: bool = False,
) -> tuple[np.ndarray, int]:
    """Read a WAV, FLAC or OGG file (or any format libsndfile reads) as float64 samples,
    down-mixed and resampled, refusing a damaged or hostile file before it costs anything.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        The file to read. Any name the file system holds works, including names that are
        not UTF-8; messages show those bytes as ``\\xNN``.
    sr : int or None
        Target sample rate in Hz; the file is resampled to it when it differs
        (``scipy.signal.resample_poly``). None keeps the file's own rate.
    mono : bool
        True averages the channels into one (down-mix). False keeps them.
    max_seconds : float, optional
        Refuse a file longer than this (its header is read, not its samples). Default:
        only ``MAX_SAMPLES`` (frames x channels) limits the length.
    allow_any_rate : bool
        Read a file whose header claims a sample rate outside ``MIN_SAMPLE_RATE`` ..
        ``MAX_SAMPLE_RATE`` (1 kHz .. 768 kHz). Default False: such a rate is a damaged
        header, and a rate of 2^31 - 1 Hz would make resampling or an FFT sized for the
        rate take gigabytes.

    Returns
    -------
    y : ndarray, float64, shape (S,) if ``mono`` else (S, K)
        Integer PCM scaled to [-1, 1); float files as stored.
    sr : int
        The sample rate of ``y`` in Hz.

    Raises
    ------
    AudioError
        Naming the file and what is wrong, in this order: missing, a dangling symbolic
        link, unreadable (permission denied), a name too long for the file system, a
        folder, not a regular file (a FIFO, ``/dev/urandom``), empty; not audio libsndfile
        reads; a WAV sample size that cannot be right (7 bits); a sample rate outside
        1 kHz .. 768 kHz; more than ``MAX_SAMPLES`` samples or ``max_seconds``; truncated
        (its header promises more bytes or frames than it holds, an Ogg stream without its
        last page); a decode error; zero samples; NaN / Inf samples; a sample beyond
        +-``MAX_ABS_SAMPLE``.

    Notes
    -----
    Every check on the header runs before the samples are read, and the samples are
    allocated only for what the file can hold: PCM is checked against the file's size,
    compressed data is decoded block by block. docs/reliability.md lists the checks and
    the tests (tests/hostile/test_audio_files.py) that hold the code to them.
    """
    if max_seconds is not None and not (0 < max_seconds < float("inf")):
        raise ValueError(f"max_seconds must be a positive number of seconds, got {max_seconds!r}")
    fd, st, name = _open_regular(path)
    try:
        sound, problem = open_sound(fd, st.st_size, name)
        with sound, _quiet_stderr(sound.format == "MP3"):
            y, native_sr = _checked_read(
                sound, name, st.st_size, problem, max_seconds, allow_any_rate
            )
    except OSError as err:  # an I/O error while the headers are read
        raise AudioError(f"{name}: cannot be read ({(err.strerror or str(err)).lower()})") from None
    finally:
        os.close(fd)
    if mono:
        y = y.mean(axis=1)  # down-mix: the average keeps full scale at full scale
    if sr is not None and sr != native_sr:
        y = resample(y, orig_sr=native_sr, target_sr=sr)
        native_sr = sr
    return np.ascontiguousarray(y), int(native_sr)


def open_sound(fd: int, size: int, name: str):
    """Open an audio file's descriptor with libsndfile, as ``load_audio`` does: (SoundFile,
    the container header's own problem or None). A file libsndfile cannot open, or an "MP3"
    that does not start as one, is an AudioError naming it. The caller closes the SoundFile."""
    problem = _container_problem(fd, size)  # reads headers only
    head = _reader(fd)(0, 4)
    signed = head.startswith(_SIGNATURES) or _mpeg_frame_header(head)
    mpeg = not signed or head.startswith(b"ID3") or _mpeg_frame_header(head)
    os.lseek(fd, 0, os.SEEK_SET)  # libsndfile reads the descriptor from where it stands
    try:
        with _quiet_stderr(mpeg):  # libmpg123 prints what it makes of a file, from C
            sound = sf.SoundFile(fd, closefd=False)
    except sf.LibsndfileError as err:  # no header libsndfile knows, or a broken one
        if problem:  # a header of ours explains it better (a WAV claiming 0 bits)
            raise AudioError(f"{name}: {problem}") from None
        words = _LIBSNDFILE_WORDS.get(err.error_string, err.error_string.rstrip("."))
        raise AudioError(f"{name}: not a readable audio file: {words}") from None
    if not signed and sound.format == "MP3":
        sound.close()
        raise AudioError(
            f"{name}: not a readable audio file: {_LIBSNDFILE_WORDS['Format not recognised.']}"
            " (it does not start as an MP3 does, with an ID3 tag or an MPEG frame header)"
        )
    return sound, problem


def check_header(sound, name, size, problem, max_seconds=None, allow_any_rate=False) -> int:
    """The checks on what a header claims, before any sample is read: a sample rate within
    1 kHz .. 768 kHz (unless ``allow_any_rate``), the container's own ``problem``, the length
    against ``max_seconds`` and ``MAX_SAMPLES``, and PCM against the file's ``size``.
    Returns the number of samples the reader may allocate."""
    frames, rate, channels = sound.frames, sound.samplerate, sound.channels
    if rate <= 0 or (not allow_any_rate and not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE):
        raise AudioError(
            f"{name}: its header claims a sample rate of {rate} Hz, outside 1 kHz .. 768 kHz: "
            "a damaged header (load_audio(..., allow_any_rate=True) reads it anyway)"
        )
    if problem:
        raise AudioError(f"{name}: {problem}")
    limit = MAX_SAMPLES
    if max_seconds is not None:
        limit = min(limit, int(max_seconds * rate) * channels)
        if frames > max_seconds * rate:
            raise AudioError(
                f"{name}: is {frames / rate:.1f} s long, over the limit of "
                f"max_seconds={max_seconds:g} s"
            )
    if frames * channels > MAX_SAMPLES:
        raise AudioError(
            f"{name}: its header claims {frames} frames x {channels} channel(s) = "
            f"{frames * channels} samples, over the limit of 2^31 (features.audio.MAX_SAMPLES)"
        )
    width = _pcm_width(sound)
    if width is not None and frames * channels * width > size:
        raise AudioError(
            f"{name}: truncated: its header promises {frames} frames of {channels} x "
            f"{width} bytes, the file has only {size} bytes"
        )
    return limit


def _checked_read(sound, name, size, problem, max_seconds, allow_any_rate):
    """The header checks, then the samples and the checks on them (``load_audio``)."""
    limit = check_header(sound, name, size, problem, max_seconds, allow_any_rate)
    frames, rate, channels = sound.frames, sound.samplerate, sound.channels
    y = _read_samples(sound, frames=frames, limit=limit, name=name)
    # An MP3's length is an estimate when it has no Xing/Info frame (from its size and bit
    # rate): a few MPEG frames (1152 samples each) or 1% short is not a cut file.
    slack = max(4 * 1152, frames // 100) if sound.format == "MP3" else 0
    if y.shape[0] < frames - slack:
        raise AudioError(
            f"{name}: truncated: the header promises {frames} samples, the file holds {y.shape[0]}"
        )
    y = check_signal(y, name=name)  # zero samples, NaN, Inf
    peak = float(np.max(np.abs(y)))
    if peak > MAX_ABS_SAMPLE:
        at = int(np.argmax(np.abs(y).max(axis=1)))
        raise AudioError(
            f"{name}: sample {at} is {peak:.3g}, beyond any recording (full scale is 1; "
            "the limit is 2^31): a damaged or hostile float file"
        )
    if y.shape[1] != channels:  # pragma: no cover - libsndfile always gives K columns
        raise AudioError(f"{name}: decoded {y.shape[1]} channels, the header says {channels}")
    return y, rate


def _checked_output(path: Path, y, subtype):
    """The samples, format and subtype of a write, checked before any byte is written."""
    y = check_signal(y, name=str(path))
    fmt = path.suffix.lstrip(".").upper()
    if fmt not in sf.available_formats():
        raise AudioError(f"{path}: unknown audio format {path.suffix!r}; use .wav, .flac or .ogg")
    subtype = subtype or sf.default_subtype(fmt)
    peak = float(np.max(np.abs(y)))
    if subtype.startswith("PCM") and peak > 1.0:
        raise AudioError(
            f"{path}: peak {peak:.3f} exceeds full scale 1.0 and {subtype} would clip it; "
            "normalise the signal first or write subtype='FLOAT'"
        )
    return y, fmt, subtype


def write_audio(file, y: np.ndarray, sr: int, *, name, subtype: str | None = None) -> None:
    """Write samples as the bytes of an audio file into ``file``, an open binary file.

    The same bytes as ``save_audio``, for a caller that owns the file (``ser`` writes every
    output through its own atomic writer, ``ser.io.atomic_write``). ``name`` is the file's
    final name: its extension chooses the format (.wav, .flac, .ogg) and errors name it.
    Raises AudioError, and writes nothing, as ``save_audio``.
    """
    y, fmt, subtype = _checked_output(Path(name), y, subtype)
    sf.write(file, y, int(sr), subtype=subtype, format=fmt)


def save_audio(
    path, y: np.ndarray, sr: int, *, subtype: str | None = None, durable: bool = True
) -> Path:
    """Write samples to an audio file atomically (a reader never sees half a file).

    The samples go to a temporary file in the same folder, created with the mode a plain
    ``open`` gives (0o666 minus the umask), which then replaces ``path`` in one
    ``os.replace``; on any error the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; the format follows the extension (.wav, .flac, .ogg).
    y : ndarray, shape (S,) or (S, K)
        Samples in full-scale units.
    sr : int
        Sample rate in Hz.
    subtype : str, optional
        A soundfile subtype such as "PCM_16" (the WAV default) or "FLOAT".
    durable : bool
        Flush the file to the disk (``os.fsync``) before it replaces ``path``.

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    AudioError
        If ``y`` is empty or not finite, or peaks above full scale while the subtype stores
        integers (those samples would be clipped: normalise first or pass subtype="FLOAT").
    """
    path = Path(path)
    _checked_output(path, y, subtype)  # refused before a temporary file exists
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as f:  # a file object: soundfile never encodes the name
            write_audio(f, y, sr, name=path, subtype=subtype)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
