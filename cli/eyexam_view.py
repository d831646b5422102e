"""The Eyexam report on the terminal: the seven steps, their causes and the mapping
(shared by ``loopscape eyexam`` with and without sparsity)."""

from __future__ import annotations

from rich.table import Table

from loopscape.costmodels.eyexam import EyexamReport
from loopscape.spaces.mapping import Mapping

from .console import console, wide_when_piped


def mapping_lines(mapping: Mapping) -> list[str]:
    """One line per level: temporal loops (outermost first), spatial X/Y, keeps."""
    out = []
    for lm in mapping.levels:
        parts = []
        for kind, loops in (("temporal", lm.temporal), ("spatial_x", lm.spatial_x),
                            ("spatial_y", lm.spatial_y)):
            big = [f"{l.dim}{l.factor}" + (f",{l.residual}" if l.imperfect else "")
                   for l in loops if l.factor > 1]
            if big:
                parts.append(f"{kind} {' '.join(big)}")
        parts.append(f"keep {', '.join(lm.keep) if lm.keep else '-'}")
        out.append(f"  {lm.target}: {'; '.join(parts)}")
    return out


def _bound(x: float) -> str:
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 else f"{x:,.4g}"


def _ratio(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _pct(x: float) -> str:
    return f"{x:.1f}%" if x >= 0.1 else f"{x:.2g}%"


def render(report: EyexamReport) -> None:
    """The seven steps as a table, then the step that loses the most."""
    wide_when_piped(160)
    table = Table(title=f"Eyexam of {report.workload} on {report.arch} "
                        f"({report.macs:,} MACs, {report.pes:,} PEs)")
    table.add_column("step", justify="right")
    table.add_column("name")
    table.add_column("bound MACs/cycle", justify="right")
    table.add_column("% of step 1", justify="right")
    table.add_column("% of previous", justify="right")
    table.add_column("cause", overflow="fold")
    first = report.steps[0].bound_macs_per_cycle
    prev = first
    for s in report.steps:
        b = s.bound_macs_per_cycle
        table.add_row(str(s.step), s.name, _bound(b), _pct(100 * b / first),
                      _pct(100 * b / prev), s.cause)
        prev = b
    console.print(table)
    summ = report.summary()
    where = ("no step leaves PEs idle" if summ["step"] is None else
             f"the array loses most at step {summ['step']} ({summ['name']}, "
             f"x{_ratio(summ['loss_ratio'])})")
    console.print(f"final bound {_bound(summ['final_macs_per_cycle'])} MACs/cycle = "
                  f"{100 * summ['final_utilization']:.2f}% of the {report.pes:,} PEs; {where}")
