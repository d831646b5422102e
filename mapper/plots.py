"""Every figure loopscape draws (matplotlib, the optional extra ``loopscape[plot]``):
a layer's Pareto front, a network's energy per layer shape and level, and the Eyexam
waterfall of one mapping.

Figures are drawn on matplotlib's Agg canvas through its object API, never pyplot, so
nothing global changes (no backend switch, no open figures); each is rendered to memory
and written atomically (a temporary file, then ``os.replace``). The format follows the
file's suffix, ``.png`` or ``.svg``. Numbers are shown in the units of
:mod:`loopscape.mapper.units`, named on every axis, never with matplotlib's offset or
exponent.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Sequence

from loopscape.costmodels.eyexam import EyexamReport
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import write_atomic

from .units import CYCLES, ENERGY, format_value

__all__ = ["MAX_BARS", "PLOT_FORMATS", "PLOT_INSTALL", "breakdown_layout", "image_format",
           "plot_breakdown", "plot_front", "plot_waterfall", "require_matplotlib"]

PLOT_FORMATS = ("png", "svg")
PLOT_INSTALL = "pip install 'loopscape[plot]'"
#: Most bars of an energy breakdown; further layer shapes are summed into one bar.
MAX_BARS = 30


def image_format(path: str | os.PathLike, key: str = "--out") -> str:
    """``png`` or ``svg`` from the suffix of ``path``; a SpecError otherwise."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        raise SpecError(f"cannot tell the image format from {Path(path).name!r}",
                        source=str(path), key=key, fix="end the file name in .png or .svg")
    return ext


def require_matplotlib(key: str = "--format plot") -> None:
    """A SpecError saying what to install when matplotlib is missing (call it before
    any long work whose result is to be plotted)."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError:
        raise SpecError("plots need matplotlib, which is not installed", key=key,
                        fix=f"install loopscape[plot] ({PLOT_INSTALL})") from None


def _figure(width: float, height: float, key: str):
    require_matplotlib(key)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _plain(axis) -> None:
    """Tick labels as plain numbers with thousands separators: no offset (``1e8``) and
    no exponent (the unit in the axis title carries the magnitude)."""
    from matplotlib.ticker import FuncFormatter
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.10g}"))


def _save(fig, path: str | os.PathLike, fmt: str) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=120)
    write_atomic(buf.getvalue(), path)


def plot_front(points: Sequence[tuple[float, float]], chosen: int | None,
               path: str | os.PathLike, title: str = "") -> None:
    """Energy against cycles of every front point (``points``: (energy in pJ, cycles)),
    numbered, the ``chosen`` one starred; written to ``path`` (.png or .svg)."""
    fmt = image_format(path)
    fig = _figure(6.4, 4.6, "--format plot")
    ax = fig.add_subplot()
    eu = ENERGY.unit_for(e for e, _ in points)
    cu = CYCLES.unit_for(c for _, c in points)
    xy = [(cu.scale(c), eu.scale(e)) for e, c in points]
    order = sorted(range(len(points)), key=lambda k: xy[k][0])
    ax.plot([xy[k][0] for k in order], [xy[k][1] for k in order], "o-", color="C0",
            drawstyle="steps-post", label="Pareto front")
    for k, (x, y) in enumerate(xy):
        ax.annotate(str(k), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if chosen is not None:
        ax.plot([xy[chosen][0]], [xy[chosen][1]], "*", color="C3", markersize=16,
                label=f"chosen (point {chosen})")
    _plain(ax.xaxis)
    _plain(ax.yaxis)
    ax.set_xlabel(f"latency ({cu.name})")
    ax.set_ylabel(ENERGY.header(eu))
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.margins(0.08)
    ax.legend(loc="lower left")  # below a min-min front: never any point there
    _save(fig, path, fmt)


def plot_breakdown(bars: Sequence[tuple[str, dict[str, float]]], path: str | os.PathLike,
                   title: str = "", note: str = "") -> None:
    """Horizontal stacked bars, top to bottom in the given order: ``bars`` is a list of
    (label, energy per storage level and compute unit in pJ). Parts with zero energy in
    every bar are left out (no empty legend entries); beyond ``MAX_BARS`` bars the
    smallest are summed into one ``other`` bar. ``note`` goes under the chart."""
    fmt = image_format(path)
    bars, parts = breakdown_layout(bars)
    unit = ENERGY.unit_for(sum(b.values()) for _, b in bars)
    fig = _figure(9.0, 1.9 + 0.3 * len(bars), "--format plot")
    ax = fig.add_subplot()
    y = list(range(len(bars)))
    left = [0.0] * len(bars)
    for j, name in enumerate(parts):
        widths = [unit.scale(b.get(name, 0.0)) for _, b in bars]
        ax.barh(y, widths, left=left, label=name, color=f"C{j % 10}", height=0.75)
        left = [u + w for u, w in zip(left, widths)]
    ax.set_yticks(y, [label for label, _ in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_ylim(len(bars) - 0.5, -0.5)
    _plain(ax.xaxis)
    ax.set_xlabel(ENERGY.header(unit))
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.legend(fontsize=8, loc="outside right upper")
    if note:
        fig.text(0.01, 0.005, note, fontsize=7, color="0.3", ha="left", va="bottom")
        fig.get_layout_engine().set(rect=(0, 0.03, 1, 0.97))
    _save(fig, path, fmt)


def breakdown_layout(bars: Sequence[tuple[str, dict[str, float]]], max_bars: int = MAX_BARS
                     ) -> tuple[list[tuple[str, dict[str, float]]], list[str]]:
    """The bars and the stacked parts (legend entries) an energy breakdown draws: at
    most ``max_bars`` bars (the ``max_bars - 1`` of most energy in their order, the
    rest summed into one ``other`` bar), and the parts in order of first appearance,
    without those that are zero in every bar."""
    bars = list(bars)
    if len(bars) > max_bars:
        keep = set(sorted(range(len(bars)),
                          key=lambda k: -sum(bars[k][1].values()))[:max_bars - 1])
        rest: dict[str, float] = {}
        for k, (_, b) in enumerate(bars):
            if k not in keep:
                for name, v in b.items():
                    rest[name] = rest.get(name, 0.0) + v
        n = len(bars) - len(keep)
        bars = [bars[k] for k in sorted(keep)] + [(f"other ({n} bars summed)", rest)]
    parts: list[str] = []
    for _, b in bars:
        parts += [name for name in b if name not in parts]
    return bars, [p for p in parts if any(b.get(p, 0.0) != 0 for _, b in bars)]


_TICK = {"layer size and shape": "layer size\nand shape", "array dimensions": "array\ndimensions",
         "storage capacity": "storage\ncapacity", "average bandwidth": "average\nbandwidth",
         "instantaneous bandwidth": "instantaneous\nbandwidth", "number of PEs": "number\nof PEs"}


def plot_waterfall(report: EyexamReport, path: str | os.PathLike) -> None:
    """The Eyexam waterfall of ``report`` (log scale): per step the bound it keeps and,
    stacked above, what it lost against the previous step, labelled with the bound and
    the loss factor (``lost x4`` = a bound four times below the previous step's)."""
    fmt = image_format(path, key="--plot")
    fig = _figure(9.0, 5.0, "--plot")
    ax = fig.add_subplot()
    bounds = list(report.bounds)
    floor = max(min(bounds) / 4, 1e-3)
    xs = list(range(1, len(bounds) + 1))
    prev = [bounds[0]] + bounds[:-1]
    ax.bar(xs, [b - floor for b in bounds], bottom=floor, color="#4C72B0",
           label="bound kept (MACs per cycle)")
    ax.bar(xs, [p - b for p, b in zip(prev, bounds)], bottom=bounds, color="#DD8452",
           alpha=0.6, label="lost at this step (lost xN: N times below the previous step)")
    for x, b, p in zip(xs, bounds, prev):
        label = format_value(b)
        if p > b * (1 + 1e-12):
            label += f"\nlost x{format_value(p / b, 3)}"
        ax.text(x, p * 1.15, label, ha="center", va="bottom", fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.85})
    ax.axhline(report.pes, color="grey", linestyle="--", linewidth=1,
               label=f"PE count ({report.pes:,}): one MAC per PE per cycle")
    ax.set_yscale("log")
    ax.set_ylim(floor, bounds[0] * 15)
    ax.set_xticks(xs, [f"{s.step}\n{_TICK.get(s.name, s.name)}" for s in report.steps],
                  fontsize=8)
    ax.set_ylabel("upper bound (MACs per cycle, log scale)")
    ax.set_title(f"Eyexam of {report.workload} on {report.arch} "
                 f"({report.macs:,} MACs, {report.pes:,} PEs)", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    _save(fig, path, fmt)
