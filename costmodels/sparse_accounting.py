"""Second half of the sparse evaluation: combine compression and gating/skipping into
actual/gated/skipped counts, split the computes, then price energy and cycles."""

from __future__ import annotations

import math

from .evaluate import bandwidth_slowdown, link_energy
from .sparse_result import SparseEvaluation
from .sparse_density import expected_occupancy


def scalar_density(d, tensor, workload) -> float:
    """Probability that one element of the tensor is non-zero."""
    full = tensor.size(dict(zip(workload.dims, workload.bounds)))
    return expected_occupancy(d, 1, full) if d.distribution != "banded" else \
        expected_occupancy(d, full, full) / full

KINDS = ("reads", "fills", "updates")


def _floor(x: float) -> int:
    return int(math.floor(x + 1e-9))


def _local(r: dict, p: float, kind: str, rw: bool) -> None:
    """Take the ineffectual share ``p`` of a level's own accesses into gated/skipped."""
    reads, fills, updates = r["cur"]
    dr = math.ceil(reads * p - 1e-9) if rw else _floor(reads * p)
    du = _floor(updates * p)
    r[kind] = [dr, 0, du]
    r["cur"] = [reads - dr, fills, updates - du]
    fr, ff, fu = r["fmt_cur"]
    r[kind + "_fmt"] = [[(_floor(m * p), _floor(q * p)) for m, q in fr], [],
                        [(_floor(m * p), _floor(q * p)) for m, q in fu]]
    r["fmt_cur"] = [[(m - _floor(m * p), q - _floor(q * p)) for m, q in fr], ff,
                    [(m - _floor(m * p), q - _floor(q * p)) for m, q in fu]]


def _compute_split(workload, sparsity, rec, kept, n, total, gs_saf, gs_prob):
    """(actual, gated, skipped) computes from the two read-only operands' states."""
    ops = [t.name for t in workload.tensors if not t.read_write]
    if len(ops) != 2:
        return total, 0, 0
    dens, md = {}, {}
    for t in ops:
        l = next((l for l in range(n) if kept[t][l]), None)
        dens[t] = round(scalar_density(sparsity.density(t), workload.tensor(t), workload), 6) \
            if l is not None else 1.0
        md[t] = bool(l is not None and rec[(l, t)]["md"])
    states = {}
    for t in ops:
        states[t] = {"enz": dens[t], "ez": 0.0 if md[t] else 1 - dens[t],
                     "ne": 1 - dens[t] if md[t] else 0.0}
    a, b = ops
    if gs_saf.get(a) and gs_saf.get(b):
        pairs = ((a, b), (b, a))
    elif gs_saf.get(a):
        pairs = ((b, a),)
    elif gs_saf.get(b):
        pairs = ((a, b),)
    else:
        pairs = ()
    for x, y in pairs:  # x's states given that y was non-empty
        ratio = 1 - gs_prob[y]
        e = dens[x] / ratio if ratio else 1.0
        states[x] = {"enz": e, "ez": 0.0 if md[x] else 1 - e, "ne": 1 - e if md[x] else 0.0}
    for t in ops:
        for s in states[t]:
            states[t][s] = min(1.0, max(0.0, states[t][s]))
    sa, sb = states[a], states[b]
    gate = sparsity.compute_optimization == "gating"
    skip = sparsity.compute_optimization == "skipping"
    rnd = total * sa["enz"] * sb["enz"]
    gated = skipped = 0.0
    one_zero = total * (sa["enz"] * sb["ez"] + sa["ez"] * sb["enz"])
    if gate:
        gated += one_zero
    else:
        rnd += one_zero
    for amount in (total * (sa["enz"] * sb["ne"] + sa["ne"] * sb["enz"]),
                   total * (sa["ez"] * sb["ne"] + sa["ne"] * sb["ez"])):
        if skip:
            skipped += amount
        elif gate:
            gated += amount
        else:
            rnd += amount
    both_zero = total * sa["ez"] * sb["ez"]
    if gate:
        gated += both_zero
    else:
        rnd += both_zero
    none = total * sa["ne"] * sb["ne"]
    g, s = _floor(gated), _floor(skipped)
    return total - g - s - _floor(none), g, s


# Timeloop's threshold (tile words per block) below which a compressed tile's vector
# accesses are counted per occupancy instead of per word; per block size, densities
# 0.1, 0.2, ..., 1.0.
_VECTOR_THRESHOLDS = {2: (251, 125, 84, 63, 51, 42, 36, 32, 28, 1),
                      4: (375, 188, 125, 94, 75, 63, 54, 47, 42, 1),
                      8: (438, 219, 146, 110, 88, 73, 63, 55, 49, 1),
                      16: (469, 235, 157, 118, 94, 79, 67, 59, 52, 1),
                      32: (485, 243, 162, 122, 97, 81, 70, 61, 52, 1)}


def _vector_ratio(r: dict, block: int) -> float:
    """Vector accesses per naive vector access of a compressed tile: a small sparse tile
    spreads its non-zeros over partly filled blocks."""
    shape = r["shape"]
    if not r["md"] or not shape or block <= 1 or block not in _VECTOR_THRESHOLDS:
        return 1.0
    dens = r["dens"]
    if dens >= 1.0:
        return 1.0
    idx = int(math.floor(dens / 0.1)) - 1 if dens >= 0.1 else 0
    if _VECTOR_THRESHOLDS[block][max(0, idx)] <= shape / block:
        return 1.0
    total = sum(math.ceil(k / block) * p for k, p in r["raw_dist"] if k >= 1)
    return total / (shape * dens / block)


def _codec_count(rec: dict, l: int, t: str, workload, n: int, which: str) -> int:
    """Words an uncompressed tile under a compressed parent decompresses (its fills) or
    compresses on the way back (the parent's updates, read-write tensors only)."""
    r = rec[(l, t)]
    if r["md"]:
        return 0
    parent = next((p for p in range(l + 1, n) if (p, t) in rec), None)
    if parent is None or not rec[(parent, t)]["md"]:
        return 0
    if which == "decompression":
        return r["cur"][1]
    return rec[(parent, t)]["cur"][2] if workload.tensor(t).read_write else 0


def account(workload, arch, sparsity, nest, nests, names, kept, rec, probs,
            link_transfers: bool = False):
    n = len(names)
    for r in rec.values():
        r["cur"] = list(r["act"])
        r["fmt_cur"] = [list(x) for x in r["fmt"]]
        r["gated"] = [0, 0, 0]
        r["skipped"] = [0, 0, 0]
        r["gated_fmt"] = [[], [], []]
        r["skipped_fmt"] = [[], [], []]
        r["final"] = False
    computes = workload.macs
    gs_saf, gs_prob = {}, {}
    for t in workload.tensor_names:
        rw = workload.tensor(t).read_write
        for l in range(n - 1, -1, -1):
            if (l, t) not in probs:
                continue
            kind, p = probs[(l, t)]
            il = l - 1
            while il >= 0:
                r = rec.get((il, t))
                if r is not None:
                    r["cur"] = [x - _floor(x * p) for x in r["cur"]]
                    if r["md"]:
                        r["fmt_cur"] = [[(m - _floor(m * p), q - _floor(q * p)) for m, q in f]
                                        for f in r["fmt_cur"]]
                    if (il, t) in probs:
                        k2, p2 = probs[(il, t)]
                        eff = 1 - (1 - p2) / (1 - p) if p < 1 else 1.0
                        r["fmt_cur"][0] = list(r["fmt_cur"][2])  # Timeloop carries updates here
                        _local(r, eff, "gated" if k2 == "gating" else "skipped", rw)
                        r["final"] = True
                        break
                il -= 1
            r = rec[(l, t)]
            if not r["final"]:
                _local(r, p, "gated" if kind == "gating" else "skipped", rw)
                r["final"] = True
            if il < 0 and not rw:
                computes -= _floor(computes * p)
                gs_saf[t] = True
                gs_prob[t] = round(p * 1e6) / 1e6
    actual_c, gated_c, skipped_c = _compute_split(workload, sparsity, rec, kept, n, computes,
                                                  gs_saf, gs_prob)
    pes = max(1, nest.utilized_pes)
    cc = max(1, math.ceil((actual_c + gated_c) / pes))
    levels_out = {}
    level_cycles = []
    energies = []
    for l in range(n - 1, -1, -1):
        i = n - 1 - l
        lvl = arch.levels[i]
        costs = sparsity.costs(lvl.name)
        mdw = costs.metadata_storage_width_bits
        rd = wr = 0.0
        access = link_e = 0.0
        tensors = {}
        for t in workload.tensor_names:
            r = rec.get((l, t))
            if r is None:
                continue
            act, gat, skp = r["cur"], r["gated"], r["skipped"]
            bits = r.get("fmt_bits", [])

            def nbits(per_rank):
                return sum(bm * m + bp * q for (m, q), (bm, bp) in zip(per_rank, bits))

            fbits = [nbits(f) for f in r["fmt_cur"]]
            gbits = [nbits(f) for f in r["gated_fmt"]]
            fmt = [sum(m + q for m, q in f) for f in r["fmt_cur"]]
            gfmt = [sum(m + q for m, q in f) for f in r["gated_fmt"]]
            wb = lvl.word_bits
            # Timeloop divides format bits by the word width in integers (floor).
            rd += (act[0] + gat[0] + int(fbits[0] + gbits[0]) // wb) / cc
            wr += (act[1] + gat[1] + act[2] + gat[2]
                   + int(fbits[1] + fbits[2] + gbits[1] + gbits[2]) // wb) / cc
            bw = lvl.block_words(t)
            ratio = _vector_ratio(r, bw)

            def vec(x):
                return math.ceil(x / bw) * ratio

            e = (vec(act[0]) * lvl.read_energy_pj + vec(act[1]) * lvl.fill_energy_pj
                 + vec(act[2]) * lvl.update_energy_pj
                 + vec(gat[0]) * costs.gated_read_pj + vec(gat[1]) * costs.gated_fill_pj
                 + vec(gat[2]) * costs.gated_update_pj + vec(skp[0]) * costs.skipped_read_pj
                 + vec(skp[1]) * costs.skipped_fill_pj + vec(skp[2]) * costs.skipped_update_pj)
            if mdw:
                e += (math.ceil(fbits[0] / mdw) * costs.metadata_read_pj
                      + math.ceil(fbits[1] / mdw) * costs.metadata_fill_pj
                      + math.ceil(fbits[2] / mdw) * costs.metadata_update_pj
                      + math.ceil(gbits[0] / mdw) * costs.gated_metadata_read_pj
                      + math.ceil(nbits(r["skipped_fmt"][0]) / mdw)
                      * costs.skipped_metadata_read_pj)
            e += _codec_count(rec, l, t, workload, n, "decompression") * costs.decompression_pj
            e += _codec_count(rec, l, t, workload, n, "compression") * costs.compression_pj
            inst = nest.utilized_instances[i] * r["inst_scale"]
            access += e * inst
            if link_transfers:  # dense words over links, priced at the fanout's parent
                link_e += link_energy(arch, nest.utilized_instances, i,
                                      nest.traffic[i][t].link_transfers)
            d = {"tile_words": r["shape"], "occupancy_words": r["occupancy"],
                 "format": list(r["ranks"]), "energy_pj": e * inst}
            for k, kind in enumerate(KINDS):
                d[kind] = act[k]
                d["actual_" + kind] = act[k]
                d["algorithmic_" + kind] = r["alg"][k]
                d["gated_" + kind] = gat[k]
                d["skipped_" + kind] = skp[k]
                d["metadata_" + kind] = fmt[k]
                d["gated_metadata_" + kind] = gfmt[k]
                d["skipped_metadata_" + kind] = sum(m + q for m, q in r["skipped_fmt"][k])
            d["format_max_words"] = [list(x) for x in r["format_max"]]
            if link_transfers:  # dense: words over links are not scaled by sparsity
                d["link_transfers"] = nest.traffic[i][t].link_transfers
                d["link_energy_pj"] = link_energy(arch, nest.utilized_instances, i,
                                                  d["link_transfers"])
            tensors[t] = d
        slow = bandwidth_slowdown(lvl, rd, wr)
        level_cycles.append(int(math.ceil(cc / slow)))
        energies.append((lvl, tensors, access, link_e))
    cycles = max([cc] + level_cycles)
    total = 0.0
    for (lvl, tensors, access, link_e), lc in zip(energies, level_cycles):
        i = arch.index(lvl.name)
        leak = lvl.leak_energy_pj * cycles * nest.utilized_instances[i]
        d = dict(tensors)
        d.update(energy_pj=access + leak + link_e, access_energy_pj=access,
                 leak_energy_pj=leak, utilized_instances=nest.utilized_instances[i], cycles=lc)
        if link_e:
            d["link_energy_pj"] = link_e
        levels_out[lvl.name] = d
        total += access + leak + link_e
    ce = arch.compute.energy_pj
    compute_e = (actual_c * ce
                 + gated_c * (sparsity.compute_gated_pj if sparsity.compute_gated_pj is not None else ce)
                 + skipped_c * (sparsity.compute_skipped_pj if sparsity.compute_skipped_pj is not None else ce))
    total += compute_e
    levels_out = {arch.levels[i].name: levels_out[arch.levels[i].name] for i in range(n)}
    util = (actual_c + gated_c) / (arch.compute.instances * cycles)  # as Timeloop
    return SparseEvaluation(total, cycles, cc, util, workload.macs, actual_c, gated_c, skipped_c,
                            compute_e, levels_out, workload.name, arch.name, nest.utilized_pes)
