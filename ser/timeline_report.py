"""What ``ser timeline`` writes: timeline.csv (the segments), timeline.json (segments and
every window's probabilities) and timeline.png, each atomically."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from ser.io import write_text
from ser.smoothing import SILENCE

__all__ = ["segments_csv", "save_timeline", "save_timeline_figure"]

_SILENCE_COLOUR = "0.85"


def segments_csv(timeline) -> str:
    """One row per segment: start and end in seconds, the emotion (or "silence"), confidence."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start_s", "end_s", "emotion", "confidence"])
    for s in timeline.segments:
        writer.writerow([f"{s.start:.3f}", f"{s.end:.3f}", s.emotion, f"{s.confidence:.3f}"])
    return out.getvalue()


def _colours(labels) -> dict:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    colours = {lab: palette(k % 10) for k, lab in enumerate(labels)}
    colours[SILENCE] = _SILENCE_COLOUR
    return colours


def save_timeline_figure(path, timeline, *, title: str | None = None) -> Path:
    """Energy on top, the stacked class probabilities of every window in the middle, the
    smoothed segments below; one time axis in seconds.

    The probabilities are drawn at each window's centre; windows without speech (eq. T-3)
    are shaded grey in the middle panel, whatever the network said about them.
    """
    from ser.report import _pyplot, _save

    plt = _pyplot()
    colours = _colours(timeline.labels)
    fig, (ax_e, ax_p, ax_s) = plt.subplots(
        3,
        1,
        figsize=(10, 5.6),
        sharex=True,
        layout="constrained",
        gridspec_kw={"height_ratios": [1.0, 2.0, 0.6]},
    )
    ax_e.plot(timeline.energy_times, timeline.energy_db, lw=0.8, color="0.25")
    floor = max(-100.0, float(np.min(timeline.energy_db, initial=0.0)) - 3.0)
    ax_e.set(ylabel="energy (dBFS)", ylim=(floor, 3.0))
    ax_e.set_title(title or f"Emotion over time: {Path(str(timeline.path)).name}")

    # each window drawn as a step one hop wide around its centre (a single window too)
    half = 0.5 * timeline.hop_s
    centres = timeline.centres
    x = np.column_stack([centres - half, centres + half]).ravel()
    ax_p.stackplot(
        x,
        np.repeat(timeline.probs.T, 2, axis=1),
        labels=timeline.labels,
        colors=[colours[lab] for lab in timeline.labels],
    )
    for c, speech in zip(centres, timeline.speech, strict=True):
        if not speech:
            ax_p.axvspan(c - half, c + half, color=_SILENCE_COLOUR, lw=0, zorder=3)
    ax_p.set(ylabel="class probability", ylim=(0, 1))
    from matplotlib.patches import Patch

    handles, names = ax_p.get_legend_handles_labels()
    handles.append(Patch(color=_SILENCE_COLOUR, label=f"{SILENCE} (not scored)"))
    ax_p.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="emotion",
                fontsize=10, title_fontsize=10)  # fmt: skip

    for seg in timeline.segments:
        ax_s.broken_barh(
            [(seg.start, seg.end - seg.start)], (0, 1), facecolors=colours[seg.emotion]
        )
        if seg.end - seg.start > 0.025 * max(timeline.duration, 1e-9):
            ax_s.text(0.5 * (seg.start + seg.end), 0.5, seg.emotion, ha="center", va="center",
                      fontsize=9)  # fmt: skip
    ax_s.set(
        xlabel="time (s)",
        ylabel=f"segments\n({timeline.smoothing})",
        yticks=[],
        xlim=(0, max(timeline.duration, float(timeline.ends[-1]))),
    )
    return _save(fig, path)


def save_timeline(out, timeline, *, stem: str = "timeline") -> dict:
    """Write ``<stem>.csv``, ``<stem>.json`` and ``<stem>.png`` into ``out``; return their paths."""
    out = Path(out)
    paths = {
        "csv": write_text(out / f"{stem}.csv", segments_csv(timeline)),
        "json": write_text(out / f"{stem}.json", json.dumps(timeline.to_dict(), indent=1) + "\n"),
    }
    paths["png"] = save_timeline_figure(out / f"{stem}.png", timeline)
    return paths
