"""A mapping as a loop nest in text, in the spirit of Timeloop's ``map.txt``.

Levels come outermost first. Each level's line names it, its instance count when it has
more than one, and the tiles it keeps (words per instance); its loops follow, temporal
ones first and then the spatial ones that fan out to the level below (Y outside X), each
one step deeper than the loop around it::

    DRAM [ Weights:24 Inputs:40 Outputs:16 ]
    | for C in [0:2)
    Buffer [ Weights:12 Inputs:20 Outputs:16 ]
    |   for P in [0:2)
    |     for K in [0:2) (Spatial-X)
    RegFile x2 [ Weights:6 Inputs:12 Outputs:4 ]
    ...
"""

from __future__ import annotations

from loopscape.spaces.arch import Architecture
from loopscape.spaces.mapping import Mapping, check_mapping, tile_words
from loopscape.spaces.workload import Workload

__all__ = ["render_maptxt"]


def render_maptxt(workload: Workload, arch: Architecture, mapping: Mapping,
                  title: str | None = None) -> str:
    """The loop nest of ``mapping`` as text: per level (outermost first) the kept tiles
    in words per instance, then ``for D in [0:F)`` temporal loops and ``for D in [0:F)
    (Spatial-X|Y)`` spatial loops, indented one step per enclosing loop. Unit loops are
    left out; the last line names the compute units and the MAC count."""
    check_mapping(workload, arch, mapping, check_capacity=False)
    lines = []
    if title:
        lines.append(f"# {title}")
    lines += ["# loops outermost first; tiles in words per instance; spatial loops fan out "
              "to the level below", ""]
    depth = 0
    for i, (lm, lvl) in enumerate(zip(mapping.levels, arch.levels)):
        tiles = " ".join(f"{t}:{tile_words(workload, mapping, i, t)}"
                         for t in workload.tensor_names if t in lm.keep)
        count = f" x{lvl.instances}" if lvl.instances > 1 else ""
        lines.append(f"{lvl.name}{count} [ {tiles} ]" if tiles else f"{lvl.name}{count} [ ]")
        loops = [(l, "") for l in lm.temporal]
        loops += [(l, " (Spatial-Y)") for l in lm.spatial_y]
        loops += [(l, " (Spatial-X)") for l in lm.spatial_x]
        for loop, kind in loops:
            if loop.factor == 1:
                continue
            end = f"{loop.factor},{loop.residual}" if loop.imperfect else f"{loop.factor}"
            lines.append(f"|{'  ' * depth} for {loop.dim} in [0:{end}){kind}")
            depth += 1
    c = arch.compute
    lines.append(f"<< {c.name}{f' x{c.instances}' if c.instances > 1 else ''}: "
                 f"{workload.macs} MACs >>")
    return "\n".join(lines) + "\n"
