"""Benchmark: what holds ``optimal``'s root floor (rule P) on a space, term by term
(docs/optimal.md, "Measured", "What holds the root floor").

Without constraints the proven bound of a stopped search is the root's rule P floor: the
least EDP over the combinations of spatial profiles that fit the fanout. This prints the
distinct least floors (with how many combinations reach each), the least combination's
spatial profile, and per tensor the energy of every keep chain there (the bound takes
the cheapest of each tensor independently). For each chain it also prints, per keeper
below the outermost level whose capacity is finite, the least product of the tensor's
own temporal factors above that keeper that its capacity forces on a simple tensor:
``ceil(|t| / (capacity words x distinct tiles among the keeper's instances))`` (no tile
of a simple tensor can hold more than the keeper's words, and the tiles of its instances
and of its loops above partition the tensor). With ``--best`` (an EDP in J*cycle, e.g.
the best mapping known) it prints the energy the least combination must reach for the
proven gap to be at most ``--target`` (default 2 %). The least floor with rule O (the
outermost loop's refetch, ``outermost.py``) is printed too, and with rule V (distinct
origins along compound axes, ``origins.py``) as the search's rule P takes it; the
terms below are rule P's. No search runs: this takes a few seconds. The default case
is ResNet-50 conv2_x 3x3 on ``eyeriss_like`` without constraints (issue 14's
unconstrained target)::

    python benchmarks/optimal_root.py [--arch eyeriss_like] [--layer resnet50_conv2_x_3x3]
                                      [--constraints NAME] [--best 139.362] [--target 0.02]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from loopscape.mapper.strategies.optimal.bounds import is_simple
from loopscape.mapper.strategies.optimal.profiles import SpatialProfiles
from loopscape.mapper.strategies.optimal.tables import space_tables
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset, resolve_constraints


def profile_indices(pr: SpatialProfiles, U: list[int], L: int) -> np.ndarray:
    """[K, len(U)]: each fitting combination's profile index per dimension of ``U``, in
    the order ``SpatialProfiles.combos`` forms them (the root: nothing assigned)."""
    bd = pr.bd
    ux = np.ones((1, L), dtype=np.int64)
    uy = np.ones((1, L), dtype=np.int64)
    idx = np.zeros((1, 0), dtype=np.int64)
    for di in U:
        k = pr.keys[di]
        nx = ux[:, None, :] * k[None, :, :L]
        ny = uy[:, None, :] * k[None, :, L:]
        a, g = np.nonzero((nx <= bd.fx).all(axis=2) & (ny <= bd.fy).all(axis=2))
        ux, uy = nx[a, g], ny[a, g]
        idx = np.hstack([idx[a], g[:, None]])
    return idx


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="eyeriss_like")
    ap.add_argument("--layer", default="resnet50_conv2_x_3x3")
    ap.add_argument("--constraints", default=None)
    ap.add_argument("--best", type=float, default=None, help="best EDP known, J*cycle")
    ap.add_argument("--target", type=float, default=0.02)
    args = ap.parse_args()
    t0 = time.process_time()
    layer, arch = load_layer_preset(args.layer), load_arch_preset(args.arch)
    c = resolve_constraints(args.constraints, layer, arch) if args.constraints else None
    ms = Mapspace(layer, arch, c)
    st, bd, _, _, perm = space_tables(ms, True)
    L, wl = bd.L, bd.workload
    pr = SpatialProfiles(bd, max_combos=10 ** 7)
    U = list(perm)
    ones = np.ones(L, dtype=np.int64)
    P, Q, _, _ = pr.combos(U, ones, ones)
    tem, ext = bd.partial_tiling({}, 1)
    ce = np.broadcast_to(bd.tiling_extents(tem, ext), (len(P), bd.n_ce * (2 if bd.links else 1)))
    energy, cycles = bd.bound(P, Q, ce=ce)
    edp = energy * cycles * 1e-12
    vals, counts = np.unique(np.round(edp, 3), return_counts=True)
    print(f"{args.layer} on {args.arch}" + (f" + {args.constraints}" if c else "") +
          f": {len(P):,} profile combinations at the root; least floors (J*cycle): " +
          ", ".join(f"{v:.3f} (x{n})" for v, n in zip(vals[:5], counts[:5])))
    ce = np.ascontiguousarray(ce)
    with_o = np.maximum(energy, pr.outermost.energy(P, Q, ce)) * cycles * 1e-12
    j = int(np.argmin(with_o))
    print(f"with rule O (the outermost loop's refetch): least floor {with_o[j]:.3f} J*cycle "
          f"({with_o[j] / cycles[j] * 1e6:.3f} uJ at {cycles[j]:,.0f} cycles)")
    full, fc, _ = pr.bound(U, np.ones(bd.n_pos), np.ones(bd.n_neg), ones, ones, ce[:1])
    print(f"with rules O and V (the root's floor as the search takes it): least floor "
          f"{(full * fc).min() * 1e-12:.3f} J*cycle")
    i = int(np.argmin(edp))
    idx = profile_indices(pr, U, L)[i]
    names = [lv.name for lv in arch.levels]
    prof = []
    for j, di in enumerate(U):
        key = pr.keys[di][idx[j]]
        s = [f"{names[lv]}:{'X' if ax == 0 else 'Y'}{int(key[ax * L + lv])}"
             for ax in (0, 1) for lv in range(L) if key[ax * L + lv] > 1]
        if s:
            prof.append(f"{st.dims[di]} " + " ".join(s))
    print(f"least combination: {energy[i] * 1e-6:.3f} uJ at {cycles[i]:,.0f} cycles "
          f"(MACs and leakage {bd.fixed_energy(P[i:i + 1])[0] * 1e-6:.3f} uJ); spatial "
          f"factors: {'; '.join(prof) or 'none'}")
    if args.best is not None:
        need = args.best / (1 + args.target) / (cycles[i] * 1e-12)
        nxt = vals[1] if len(vals) > 1 else math.inf
        print(f"for a gap <= {100 * args.target:g} % against {args.best:.3f}: the least "
              f"combination must reach {need * 1e-6:.3f} uJ (+{(need - energy[i]) * 1e-6:.3f}"
              f" uJ, +{100 * (need / energy[i] - 1):.3f} %); the next floor is {nxt:.3f}")
    inst = P[i, 1:1 + L] / P[i, 0]  # instances of each level
    for ti, t in enumerate(wl.tensors):
        rows = []
        for ch in bd.chains[ti]:
            e = float(bd.chain_energy(ti, ch, P[i:i + 1], Q[i:i + 1], ce=ce[i:i + 1])[0])
            forced = []
            if is_simple(t) and len(ch) > 1:
                for k in ch[1:]:
                    cap = arch.levels[k].effective_capacity_bits
                    if cap is None:
                        continue
                    words = cap // arch.levels[k].bits(t.name)
                    distinct = inst[k] / P[i, bd.col_r[(ti, k)]]
                    forced.append(f"{names[k]} x{math.ceil(bd.words[ti] / (words * distinct))}")
            rows.append((e, ch, forced))
        rows.sort(key=lambda r: r[0])
        print(f"{t.name} ({bd.words[ti]:,} words{', simple' if bd.simple[ti] else ''}):")
        for e, ch, forced in rows[:4]:
            print(f"  {e * 1e-6:9.3f} uJ  keepers {', '.join(names[k] for k in ch)}" +
                  (f"; capacity forces own temporal loops above: {', '.join(forced)}"
                   if forced else ""))
    print(f"({time.process_time() - t0:.1f} s CPU)")


if __name__ == "__main__":
    main()
