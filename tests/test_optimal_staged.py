"""Rule tiling_bound computed one tensor's B7 at a time (docs/optimal.md, "Staged
tiling bound"): on every tiling of drawn spaces, the tilings the staged pass stops early
are strictly dominated by their full bound too, the others get the full bound and
extents bit for bit, so the removed set is the one of pricing every tiling in full."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopscape.mapper.strategies.optimal.bounds import Bounder
from loopscape.mapper.strategies.optimal.dominance import (objective_bounds,
                                                           strictly_dominated)
from loopscape.mapper.strategies.optimal.staged import StagedBound
from loopscape.mapper.strategies.optimal.structure import structure

from loopscape.spaces import einsum
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset

from test_optimal import small_spaces

OBJECTIVES = [("energy_pj", "cycles"), ("edp",), ("energy_pj",),
              ("energy_pj", "utilization"), ("cycles", "dram_words")]


def _tilings(bd: Bounder, st_, limit: int = 400):
    """(temporal, ext, pos, neg) of the space's first ``limit`` tilings (every row
    combination of the dimensions' factorization lists), as the search forms them."""
    rows = list(itertools.islice(itertools.product(*(range(s) for s in st_.dim_sizes)),
                                 limit))
    f = bd.dims
    temporal = np.stack([np.stack([f[d].temporal[r] for d, r in enumerate(t)], axis=1)
                         for t in rows])
    ext = np.stack([np.stack([f[d].ext[r] for d, r in enumerate(t)], axis=1) for t in rows])
    pos = np.stack([np.prod([f[d].pos[r] for d, r in enumerate(t)], axis=0) for t in rows])
    neg = np.stack([np.prod([f[d].neg[r] for d, r in enumerate(t)], axis=0)
                    if bd.n_neg else np.ones(0) for t in rows])
    return temporal, ext, pos, neg


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.booleans(), st.sampled_from(OBJECTIVES), st.integers(0, 2**31))
def test_staged_bound_removes_what_the_full_bound_removes(ms, links, objectives, seed):
    st_ = structure(ms)
    bd = Bounder(ms.workload, ms.arch, st_, links)
    temporal, ext, pos, neg = _tilings(bd, st_)
    ce = bd.tiling_extents(temporal, ext)
    e, c = bd.bound(pos, neg, ce=ce)
    signs = np.array([-1.0 if o == "utilization" else 1.0 for o in objectives])
    scale = ms.workload.macs / ms.arch.compute.instances
    lb = objective_bounds(objectives, signs, scale, e, c)
    # incumbents around the tilings' own bounds: some tilings dominated, some tied, some not
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(lb), 3)
    inc = np.vstack([lb[pick], lb[pick] * rng.uniform(0.97, 1.0, (3, lb.shape[1]))])
    staged = StagedBound(bd, objectives, signs, scale)
    for _ in range(2):  # the second call takes the order learnt in the first
        energy, cycles, got, pre = staged.bound(temporal, ext, pos, neg, inc)
        full_dom = strictly_dominated(inc, lb)
        assert not (pre & ~full_dom).any()  # stopped early only if dominated in full
        assert np.array_equal(energy[~pre], e[~pre])
        assert np.array_equal(cycles, c)
        assert np.array_equal(got[~pre], ce[~pre])
        rest = strictly_dominated(inc, objective_bounds(objectives, signs, scale,
                                                        energy, cycles))
        assert np.array_equal(pre | rest, full_dom)


def test_staging_stops_tilings_before_their_last_tensor():
    """On a 1-D convolution on ``eyeriss_like`` (links on), with an incumbent at the
    full bounds' median energy and the least cycle count, the staged pass stops some
    tilings before their last tensor, each of them dominated in full too, and each with a
    partial energy no higher than its full one yet above the incumbent's."""
    w = einsum("Outputs[m,p] += Weights[m,c,r] * Inputs[c,r+p]",
               {"m": 4, "c": 4, "r": 3, "p": 8})
    ms = Mapspace(w, load_arch_preset("eyeriss_like"))
    st_ = structure(ms)
    bd = Bounder(ms.workload, ms.arch, st_, True)
    temporal, ext, pos, neg = _tilings(bd, st_, 3000)
    e, c = bd.bound(pos, neg, ce=bd.tiling_extents(temporal, ext))
    objectives, signs = ("energy_pj", "cycles"), np.ones(2)
    inc = np.array([[np.median(e), c.min()]])
    staged = StagedBound(bd, objectives, signs, 1.0)
    energy, _, _, pre = staged.bound(temporal, ext, pos, neg, inc)
    full_dom = strictly_dominated(inc, objective_bounds(objectives, signs, 1.0, e, c))
    assert pre.any() and not (pre & ~full_dom).any()
    # a stopped tiling's partial energy is below its full one, yet above the incumbent
    assert (energy[pre] <= e[pre]).all() and (energy[pre] > inc[0, 0]).all()
