"""Compiling ``optimal``'s kernels before a search's clock starts (docs/search.md, "The
time limit and the first run").

numba compiles a kernel on its first call and keeps the machine code on disk; a later
process loads it in a fraction of a second. On the first run after installing, the
compilation (about 20 s on a 2-core machine) would fall inside the search's time limit
and leave ``--time 10`` almost nothing to search with. ``prepare_kernels`` runs a few
steps of ``optimal`` on a tiny built-in layer instead, which calls every kernel a search
calls with the same argument types (the kernels' wrappers pass C-contiguous, writable
int64/float64/bool arrays only, so each kernel has one signature); ``search`` calls it
through the strategy's ``prepare`` hook (``OptimalSearch.prepare(ctx)``, also callable
from a notebook) before it starts the clock.
"""

from __future__ import annotations

import time

from loopscape.costmodels.batched import BatchEvaluator
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import resolve_arch
from loopscape.spaces.workload import conv2d

from ...objectives import objective_values
from ..base import SearchContext, Strategy

# The tiny layer and design: every kernel of the walk runs by the time its first group of
# tilings went through the rules (checked by tests/test_prepare_kernels.py against
# searches of other kinds).
WARM_LAYER = {"C": 2, "M": 2, "P": 1, "Q": 1, "R": 1, "S": 1}
WARM_ARCH = "eyeriss_like"
MAX_ASKS = 8  # the walk reaches every kernel once a group of tilings went through its rules

_prepared = False  # once per process


def prepare_kernels(walk: type[Strategy]) -> float:
    """Compile (first run after installing) or load (later runs) every kernel of
    ``optimal`` in this process by a few steps of ``walk`` (``OptimalSearch``, whose
    ``prepare`` hook calls this: passed in, as search.py imports this module); the
    seconds it took (0 when already done here)."""
    global _prepared
    if _prepared:
        return 0.0
    start = time.perf_counter()
    workload, arch = conv2d(name="prepare", **WARM_LAYER), resolve_arch(WARM_ARCH)
    space = Mapspace(workload, arch, None)
    objectives = ("energy_pj", "cycles")
    strategy = walk(warm_start=0)
    strategy.setup(SearchContext(space, objectives, (), 0))
    evaluator = BatchEvaluator(workload, arch)
    for _ in range(MAX_ASKS):  # until a group of tilings went through the rules
        proposal = strategy.ask(512)
        if proposal is None:
            break
        if len(proposal):
            strategy.tell(proposal, objective_values(objectives, evaluator(proposal.batch),
                                                     arch))
        if strategy.meter.groups:
            break
    _prepared = True
    return time.perf_counter() - start
