"""Figures of exported results (matplotlib, the optional extra ``loopscape[plot]``).

Figures are drawn on matplotlib's Agg canvas without pyplot, so nothing global changes
(no backend switch, no open figures), rendered to memory and written atomically. The
image format follows the file extension: ``.png`` or ``.svg``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Sequence

from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import write_atomic

__all__ = ["PLOT_FORMATS", "plot_breakdown", "plot_front"]

PLOT_FORMATS = ("png", "svg")


def _image_format(path: str | os.PathLike) -> str:
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        raise SpecError(f"cannot tell the image format from {Path(path).name!r}",
                        source=str(path), key="--out",
                        fix="end the file name in .png or .svg")
    return ext


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SpecError("plots need matplotlib, which is not installed", key="--format plot",
                        fix="install loopscape[plot] (pip install 'loopscape[plot]')") from None
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike, fmt: str) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=120)
    write_atomic(buf.getvalue(), path)


def plot_front(points: Sequence[tuple[float, float]], chosen: int | None,
               path: str | os.PathLike, title: str = "") -> None:
    """Energy (pJ) against cycles for every front point, numbered, the ``chosen`` one
    marked; written to ``path`` (.png or .svg)."""
    fmt = _image_format(path)
    fig = _figure(6.4, 4.6)
    ax = fig.add_subplot()
    order = sorted(range(len(points)), key=lambda k: points[k][1])
    ax.plot([points[k][1] for k in order], [points[k][0] for k in order], "o-", color="C0",
            drawstyle="steps-post", label="Pareto front")
    for k, (energy, cycles) in enumerate(points):
        ax.annotate(str(k), (cycles, energy), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)
    if chosen is not None:
        energy, cycles = points[chosen]
        ax.plot([cycles], [energy], "*", color="C3", markersize=16,
                label=f"chosen (point {chosen})")
    ax.set_xlabel("cycles")
    ax.set_ylabel("energy (pJ)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    _save(fig, path, fmt)


def plot_breakdown(labels: Sequence[str], breakdowns: Sequence[dict[str, float]],
                   path: str | os.PathLike, title: str = "") -> None:
    """One stacked bar per layer (in the given order), one segment per storage level and
    the compute units, from ``breakdowns[i]`` (name -> pJ); written to ``path``."""
    fmt = _image_format(path)
    parts: list[str] = []
    for b in breakdowns:
        parts += [name for name in b if name not in parts]
    fig = _figure(max(6.4, 0.28 * len(labels) + 2.5), 4.8)
    ax = fig.add_subplot()
    x = list(range(len(labels)))
    bottom = [0.0] * len(labels)
    for j, name in enumerate(parts):
        heights = [b.get(name, 0.0) for b in breakdowns]
        ax.bar(x, heights, bottom=bottom, label=name, color=f"C{j % 10}")
        bottom = [u + h for u, h in zip(bottom, heights)]
    ax.set_xticks(x, labels, rotation=90, fontsize=7)
    ax.set_ylabel("energy (pJ)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    _save(fig, path, fmt)
