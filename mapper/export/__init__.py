"""Exports of search results (docs/export.md): mapping files for other tools, summaries,
loop nests and plots, from a result directory or a sweep directory.

The package: :mod:`.sources` (reading a result or sweep directory, choosing points),
:mod:`.rows` (summary rows, totals, CSV), :mod:`.files` (atomic writes, protected
files, mapping file text), :mod:`.maptxt` (a mapping as a loop nest) and
:mod:`.formats` (``export()``: one branch per format; figures come from
:mod:`loopscape.mapper.plots`).
"""

from .files import ExportOutput
from .formats import EXPORT_FORMATS, export
from .maptxt import render_maptxt
from .rows import result_rows, rows_to_csv, shape_bars, sweep_rows
from .sources import SweepDir, choose_point, read_sweep_dir, sweep_choices

__all__ = ["EXPORT_FORMATS", "ExportOutput", "SweepDir", "choose_point", "export",
           "read_sweep_dir", "render_maptxt", "result_rows", "rows_to_csv", "shape_bars",
           "sweep_choices", "sweep_rows"]
