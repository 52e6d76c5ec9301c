"""One plotting style for the lessons and the reports: slide-ready figures.

Every figure of the course follows the same few rules, and this module is where they live:

- **Every image has a colour bar with its unit** ("power (dB)", "log energy (ln)", "weight",
  "probability"), drawn by ``image`` or ``colorbar``.
- **Colour scales are value-true.** Three kinds, chosen by what the numbers are:

  ============== ================ =======================================================
  ``scale``      colour map       for
  ============== ================ =======================================================
  "sequential"   ``SEQUENTIAL``   levels with no special zero: dB, log energies
  "diverging"    ``DIVERGING``    signed values around 0 (weights, MFCCs, deltas); the
                                  limits are symmetric, so white is exactly 0
  "probability"  ``PROBABILITY``  gates, attention weights, recall: fixed 0 to 1, so the
                                  same colour means the same value in every panel and
                                  f = 0.73 reads as 0.73 on the colour bar
  ============== ================ =======================================================

- **Every axes with data has an x and a y label, with units** ("time (s)", "frequency (Hz)",
  "amplitude", "power (dB)"). A grid of panels that share an axis may label it once (on the
  outer panels, or with ``fig.supxlabel``).

``figure_problems(fig)`` checks the first and last rules on a finished figure; the lesson test
(tests/examples) runs it on every figure every lesson saves. ``save`` writes a figure
atomically (``ser.io.atomic_write``).

Matplotlib is imported lazily with the Agg backend (files, never a window).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "SEQUENTIAL",
    "DIVERGING",
    "PROBABILITY",
    "STYLE",
    "pyplot",
    "subplots",
    "image",
    "colorbar",
    "annotate_cells",
    "cell_ticks",
    "frames_extent",
    "untrained_note",
    "save",
    "figure_problems",
    "record_figure_problems",
]

SEQUENTIAL = "magma"
"""Levels with no special zero (dB, log energies): dark is low, bright is high."""
DIVERGING = "RdBu_r"
"""Signed values: blue below 0, white at 0, red above (limits symmetric about 0)."""
PROBABILITY = "viridis"
"""Values in [0, 1] on a fixed 0-1 scale (gates, attention, recall): perceptually uniform."""

STYLE = {
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8,
    "figure.titlesize": 11,
    "image.interpolation": "nearest",  # one frame is one column: never blur it
    "image.cmap": SEQUENTIAL,
    "axes.grid": False,
    "savefig.dpi": 100,
}
"""The matplotlib settings every course figure uses (applied by ``pyplot``)."""

_SCALES = ("sequential", "diverging", "probability")


def pyplot():
    """``matplotlib.pyplot`` with the Agg backend and ``STYLE`` applied.

    Returns
    -------
    module
        ``matplotlib.pyplot``.
    """
    import matplotlib

    matplotlib.use("Agg")  # write files; never try to open a window
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    return plt


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=(8, 3), **kwargs):
    """``plt.subplots`` with the course style and a constrained layout (room for colour bars).

    Parameters
    ----------
    nrows, ncols : int
    figsize : (float, float)
        Inches.
    **kwargs
        Passed to ``plt.subplots`` (``sharex``, ``sharey``, ``squeeze``, ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : Axes or ndarray of Axes
    """
    plt = pyplot()
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=figsize, **kwargs)


def _limits(values: np.ndarray, scale: str, vmin, vmax) -> tuple[float | None, float | None]:
    if scale == "probability":
        return (0.0 if vmin is None else vmin), (1.0 if vmax is None else vmax)
    if scale == "diverging" and vmin is None and vmax is None:
        finite = values[np.isfinite(values)]
        limit = float(np.abs(finite).max()) if finite.size else 1.0
        limit = limit if limit > 0 else 1.0
        return -limit, limit
    return vmin, vmax


def image(
    ax,
    values,
    *,
    xlabel: str,
    ylabel: str,
    cbar_label: str | None,
    title: str | None = None,
    scale: str = "sequential",
    vmin: float | None = None,
    vmax: float | None = None,
    extent=None,
    origin: str = "lower",
    aspect="auto",
    cmap: str | None = None,
    cbar_ax=None,
    annotate: str | None = None,
    integer_ticks: str = "",
):
    """Draw a matrix as an image with labelled axes and (unless told not to) a colour bar.

    Parameters
    ----------
    ax : matplotlib Axes
    values : array_like, shape (rows, columns)
        Row 0 is drawn at the bottom (``origin="lower"``) or the top (``origin="upper"``).
        Features stored time-major, (T, C), are passed transposed so time runs across.
    xlabel, ylabel : str
        Axis labels, with units.
    cbar_label : str or None
        The colour bar's label: what a colour means, with its unit. ``None`` draws no colour
        bar here: the caller draws one shared bar for panels with the same scale (``colorbar``).
    title : str, optional
    scale : {"sequential", "diverging", "probability"}
        See the module docstring. "probability" fixes the scale to [0, 1] (unless ``vmin`` /
        ``vmax`` say otherwise); "diverging" makes it symmetric about 0.
    vmin, vmax : float, optional
        Colour limits (default: the data's range, made symmetric for "diverging").
    extent : (left, right, bottom, top), optional
        Data coordinates of the image's edges (seconds, Hz, ...).
    origin : {"lower", "upper"}
    aspect : "auto", "equal" or float
    cmap : str, optional
        Overrides the scale's colour map.
    cbar_ax : Axes or list of Axes, optional
        The axes the colour bar takes its room from (default ``ax``).
    annotate : str, optional
        A format string (``"{:.0f}"``): print each cell's value in it (small matrices).
    integer_ticks : {"", "x", "y", "xy"}
        Axes whose ticks may only fall on whole numbers (coefficient n, unit, band j).

    Returns
    -------
    matplotlib.image.AxesImage
    """
    if scale not in _SCALES:
        raise ValueError(f"scale must be one of {_SCALES}, got {scale!r}")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"image expects a 2-D array, got shape {values.shape}")
    lo, hi = _limits(values, scale, vmin, vmax)
    default = {"sequential": SEQUENTIAL, "diverging": DIVERGING, "probability": PROBABILITY}
    shown = ax.imshow(
        values,
        origin=origin,
        aspect=aspect,
        interpolation="nearest",
        extent=extent,
        cmap=cmap or default[scale],
        vmin=lo,
        vmax=hi,
    )
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if integer_ticks:
        from matplotlib.ticker import MaxNLocator

        for which in integer_ticks:
            getattr(ax, f"{which}axis").set_major_locator(MaxNLocator(integer=True))
    if title:
        ax.set_title(title)
    if annotate:
        annotate_cells(ax, shown, values, annotate)
    if cbar_label is not None:
        colorbar(shown, ax=cbar_ax if cbar_ax is not None else ax, label=cbar_label)
    return shown


def colorbar(mappable, *, ax=None, label: str, ticks: Sequence[float] | None = None):
    """A colour bar for ``mappable`` (an image, a mesh), labelled with its unit.

    Parameters
    ----------
    mappable : matplotlib ScalarMappable
        What the bar explains. Panels that share the same colour map and limits can share
        one bar: pass their axes as ``ax``.
    ax : Axes or list of Axes, optional
        Where the bar takes its room from (default: the mappable's axes).
    label : str
        What a colour means, with its unit ("power (dB)", "probability"). Required.
    ticks : sequence of float, optional
        Default for a probability scale: 0, 0.25, 0.5, 0.75, 1.

    Returns
    -------
    matplotlib.colorbar.Colorbar
    """
    if not label:
        raise ValueError("a colour bar needs a label: what a colour means, with its unit")
    fig = mappable.axes.figure
    target = mappable.axes if ax is None else ax
    if ticks is None and tuple(mappable.get_clim()) == (0.0, 1.0):
        ticks = (0.0, 0.25, 0.5, 0.75, 1.0)
    bar = fig.colorbar(mappable, ax=target, label=label)
    if ticks is not None:
        bar.set_ticks(list(ticks))
    return bar


def annotate_cells(
    ax, mappable, values, fmt: str = "{:.2g}", *, texts=None, fontsize: float = 8
) -> None:
    """Print every cell's value in it, dark on light cells and light on dark ones.

    Parameters
    ----------
    ax : Axes
        Holds ``mappable``, drawn with ``extent=None`` (cell (r, c) centred at x = c, y = r).
    mappable : AxesImage
        Gives each cell's colour, hence the text colour that stays readable.
    values : array_like, shape (rows, columns)
    fmt : str
        A ``str.format`` pattern for one value.
    texts : array_like of str, shape (rows, columns), optional
        What to print instead of the formatted values (a count and a percentage, say).
    fontsize : float
    """
    values = np.asarray(values, dtype=np.float64)
    rgba = mappable.cmap(mappable.norm(values))
    luminance = 0.299 * rgba[..., 0] + 0.587 * rgba[..., 1] + 0.114 * rgba[..., 2]
    for (r, c), v in np.ndenumerate(values):
        ax.text(
            c,
            r,
            fmt.format(v) if texts is None else texts[r][c],
            ha="center",
            va="center",
            fontsize=fontsize,
            color="black" if luminance[r, c] > 0.5 else "white",
        )


def cell_ticks(ax, n_rows: int, n_cols: int, *, row_labels=None, col_labels=None) -> None:
    """A tick at the centre of every cell of an image drawn with ``extent=None``.

    Parameters
    ----------
    ax : Axes
    n_rows, n_cols : int
    row_labels, col_labels : sequence of str, optional
        Default: the indices 0, 1, ...
    """
    ax.set_xticks(range(n_cols))
    ax.set_yticks(range(n_rows))
    if col_labels is not None:
        ax.set_xticklabels(col_labels)
    if row_labels is not None:
        ax.set_yticklabels(row_labels)


def frames_extent(n_frames: int, n_rows: int, hop_seconds: float) -> tuple[float, ...]:
    """``extent`` for a (n_rows, n_frames) image with time in seconds across and rows
    0 .. n_rows - 1 up (so row k is centred on y = k).

    Parameters
    ----------
    n_frames : int
    n_rows : int
        Coefficients, mel bands, units.
    hop_seconds : float
        Seconds between frames (0.01 for a 10 ms hop).

    Returns
    -------
    (0, n_frames * hop_seconds, -0.5, n_rows - 0.5)
    """
    return (0.0, n_frames * hop_seconds, -0.5, n_rows - 0.5)


def untrained_note(fig, text: str = "untrained weights (random initialisation)") -> None:
    """Say on the figure itself that what it shows comes from untrained weights.

    Parameters
    ----------
    fig : Figure
    text : str
    """
    fig.text(
        0.995, 0.005, text, ha="right", va="bottom", fontsize=8, style="italic", color="dimgray"
    )


def save(fig, path, *, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` atomically (``ser.io.atomic_write``) and close it.

    Parameters
    ----------
    fig : Figure
    path : str or Path
        Its suffix names the format (.png, .pdf, .svg); no suffix means PNG.
    dpi : int

    Returns
    -------
    Path
    """
    from ser.io import atomic_write

    plt = pyplot()
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt))
    plt.close(fig)
    return path


# --- the check -------------------------------------------------------------------------------


def _suplabel(fig, which: str) -> str:
    label = getattr(fig, f"_sup{which}label", None)
    return label.get_text() if label is not None else ""


def _label_of_shared(ax, which: str) -> str:
    own = ax.get_xlabel() if which == "x" else ax.get_ylabel()
    if own:
        return own
    group = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    for other in group.get_siblings(ax):
        label = other.get_xlabel() if which == "x" else other.get_ylabel()
        if label:
            return label
    return ""


def _images(ax) -> list:
    from matplotlib.collections import QuadMesh

    return list(ax.images) + [c for c in ax.collections if isinstance(c, QuadMesh)]


def _same_scale(a, b) -> bool:
    return (
        a.get_cmap().name == b.get_cmap().name
        and type(a.norm) is type(b.norm)
        and np.allclose(a.get_clim(), b.get_clim())
    )


def figure_problems(fig) -> list[str]:
    """What keeps a figure from being slide-ready: unlabelled axes, images without colour bars.

    The rules (see the module docstring):

    - every axes that holds data (lines, images, bars, meshes) has an x label and a y label:
      its own, one of an axes it shares that axis with, or the figure's ``supxlabel`` /
      ``supylabel``;
    - every image (``AxesImage``, ``QuadMesh``) has a colour bar, its own or that of another
      image of the figure with the same colour map and limits (one bar for a grid of panels);
    - every colour bar has a label (what a colour means, with its unit).

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    list of str
        One line per problem, naming the axes by its index and title; empty when there is none.
    """
    problems = []
    axes = list(fig.axes)
    bars = [ax._colorbar for ax in axes if getattr(ax, "_colorbar", None) is not None]
    explained = [bar.mappable for bar in bars]
    for k, ax in enumerate(axes):
        bar = getattr(ax, "_colorbar", None)
        name = f"axes {k}" + (f" ({ax.get_title()!r})" if ax.get_title() else "")
        if bar is not None:
            label = ax.get_ylabel() if bar.orientation == "vertical" else ax.get_xlabel()
            if not label:
                problems.append(f"{name}: a colour bar without a label (what a colour means)")
            continue
        if not ax.has_data():
            continue
        if not (_label_of_shared(ax, "x") or _suplabel(fig, "x")):
            problems.append(f"{name}: no x-axis label")
        if not (_label_of_shared(ax, "y") or _suplabel(fig, "y")):
            problems.append(f"{name}: no y-axis label")
        for shown in _images(ax):
            if getattr(shown, "colorbar", None) is not None:
                continue
            if not any(_same_scale(shown, m) for m in explained):
                kind = type(shown).__name__
                problems.append(f"{name}: an image ({kind}) without a colour bar")
    return problems


def record_figure_problems(log_path) -> None:
    """From now on, every ``Figure.savefig`` in this process appends its figure's problems to
    ``log_path`` (one JSON line per saved figure: ``{"file": ..., "problems": [...]}``).

    The lesson test runs each lesson with this hook installed, so every figure any lesson
    saves, through any function, is checked.

    Parameters
    ----------
    log_path : str or Path
    """
    import json
    import re

    from matplotlib.figure import Figure

    original = Figure.savefig
    log_path = Path(log_path)

    def savefig(self, fname, *args, **kwargs):
        name = Path(str(getattr(fname, "name", fname))).name
        # an atomic write saves to ".ser-tmp-<host>-<pid>-<random>-<name>": report <name>
        name = re.sub(r"^\.ser-tmp-.*-\d+-[0-9a-f]{8}-", "", name)
        record = {"file": name, "problems": figure_problems(self)}
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
        return original(self, fname, *args, **kwargs)

    Figure.savefig = savefig
