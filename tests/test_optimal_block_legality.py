"""A block's fanout and PE-utilization legality in one compiled pass
(block_kernels.py ``legal_rows``): the same legal tilings, loop-order counts and
illegal counts as the per-tiling products of the dimensions' spatial factors, with int64
sums and with Python ints."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopscape.mapper.strategies.optimal.block_kernels import legal_rows
from loopscape.mapper.strategies.optimal.bounds import Bounder
from loopscape.mapper.strategies.optimal.structure import structure

from test_optimal import small_spaces


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(small_spaces(), st.integers(0, 3), st.sampled_from([0.0, 0.5, 1.0]),
       st.integers(0, 2**31))
def test_block_legality_matches_the_spatial_products(ms, depth, util, seed):
    st_ = structure(ms)
    bd = Bounder(ms.workload, ms.arch, st_)
    D = len(st_.dim_sizes)
    depth = min(depth, D)
    rng = np.random.default_rng(seed)
    perm = [int(x) for x in rng.permutation(D)]
    sizes = [st_.dim_sizes[di] for di in perm]
    prefix = [int(rng.integers(0, s)) for s in sizes[:depth]]
    grid = np.array(list(itertools.product(*(range(s) for s in sizes[depth:]))),
                    dtype=np.int64).reshape(-1, D - depth)
    need = util * ms.arch.compute.instances
    # by hand: every tiling's spatial products per level, its non-unit free loops
    want_keep, want_combos, want_fan, want_low = [], [], 0, 0
    for n, tail in enumerate(grid.tolist()):
        rows = prefix + tail
        f = [bd.dims[di] for di in perm]
        sx = np.prod([x.sx[r] for x, r in zip(f, rows)], axis=0)
        sy = np.prod([x.sy[r] for x, r in zip(f, rows)], axis=0)
        nu = np.sum([x.nonunit[r] for x, r in zip(f, rows)], axis=0)
        combos = math.prod(math.factorial(int(k)) for k in nu)
        if (sx > bd.fx).any() or (sy > bd.fy).any():
            want_fan += combos
        elif int(np.prod(sx * sy)) < need:
            want_low += combos
        else:
            want_keep.append(n)
            want_combos.append(combos)
    for wide in (False, True):
        keep, combos, fan, low = legal_rows(prefix, grid, perm, bd.dim_tables, bd.fx, bd.fy,
                                            need, wide)
        assert keep.tolist() == want_keep
        assert [int(c) for c in combos] == want_combos
        assert (fan, low) == (want_fan, want_low)
