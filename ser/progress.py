"""Progress on stderr, for commands and the steps they run (stdout holds the results)."""

from __future__ import annotations

import sys

__all__ = ["progress_printer"]


def progress_printer(label: str):
    """Progress on stderr (stdout holds the results): a counter that rewrites itself on a
    terminal; in a log, one line at each quarter, so CI output stays readable."""
    live = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if live:
            end = "\n" if done == total else ""
            print(f"\r{label}: {done}/{total}", end=end, file=sys.stderr, flush=True)
        elif done == total or done * 4 // total != (done - 1) * 4 // total:
            print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)

    return show
