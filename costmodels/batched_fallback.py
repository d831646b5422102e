"""Rows of a batch that the batched closed forms do not cover, scored by the scalar model.

Rows with residual loops (imperfect factorization) are evaluated one by one with
``evaluate`` and written into the batched outputs, so a ``BatchResult`` equals the scalar
evaluation on every row (tests/test_batched_residuals.py).
"""

from __future__ import annotations

from typing import Iterable

from loopscape.spaces.arch import Architecture
from loopscape.spaces.encoding import MappingBatch, decode
from loopscape.spaces.workload import Workload

from .evaluate import evaluate
from .options import ModelOptions


def score_rows_scalar(workload: Workload, arch: Architecture, options: ModelOptions,
                      b: MappingBatch, o: dict, rows: Iterable[int]) -> None:
    """Overwrite the outputs ``o`` (arrays [L, T, N], [L, N] and [N]) of ``rows``."""
    names = workload.tensor_names
    for r in rows:
        r = int(r)
        ev = evaluate(workload, arch, decode(workload, arch, b, r), check=False,
                      options=options)
        for li, lvl in enumerate(ev.levels):
            o["inst"][li, r] = lvl.utilized_instances
            o["leak"][li, r] = lvl.leak_energy_pj
            o["level_energy"][li, r] = lvl.energy_pj
            for ti, t in enumerate(names):
                st = lvl.tensors.get(t)
                if st is None:
                    continue
                o["kept"][li, ti, r] = True
                o["tile"][li, ti, r] = st.tile_words
                o["partition"][li, ti, r] = st.partition_words
                o["reads"][li, ti, r] = st.reads
                o["fills"][li, ti, r] = st.fills
                o["updates"][li, ti, r] = st.updates
                o["tensor_energy"][li, ti, r] = st.energy_pj
        o["energy"][r] = ev.energy_pj
        o["cycles"][r] = ev.cycles
        o["cc"][r] = ev.compute_cycles
        o["util"][r] = ev.utilization
        o["pes"][r] = ev.utilized_pes
