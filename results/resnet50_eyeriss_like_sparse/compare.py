"""What sparsity changes in the chosen mappings of ResNet-50 (results/README.md).

Per layer, three mappings evaluated with the same per-layer sparsity (sparsity.yaml):
the sparsity-aware sweep's choice (sweep/), the choice of a dense sweep with the same
settings and budget (run here, in memory), and the committed dense sweep's choice
(../resnet50_eyeriss_like, 100,000 mappings per layer). Prints JSON."""

import json
import sys
from pathlib import Path

from loopscape.costmodels.sparse_eval import evaluate_sparse
from loopscape.mapper.sweep import SweepSettings, network_layers, sweep
from loopscape.spaces.io import load_mapping, load_sparsity
from loopscape.spaces.presets import resolve_arch, resolve_constraints

HERE = Path(__file__).resolve().parent
arch = resolve_arch("eyeriss_like")
constraints = resolve_constraints("eyeriss_like_constraints", None, arch)
spec = load_sparsity(HERE / "sparsity.yaml")
aware = json.loads((HERE / "sweep" / "summary.json").read_text())
committed = json.loads((HERE.parent / "resnet50_eyeriss_like" / "sweep" / "summary.json")
                       .read_text())
settings = SweepSettings.from_dict(aware["settings"])
_, layers, _ = network_layers("resnet50")
same_budget = sweep(layers, arch, constraints, network="resnet50", settings=settings,
                    jobs=int(sys.argv[1]) if len(sys.argv) > 1 else 1).summary


def sparse_eval(layer, entry):
    m = load_mapping({"mapping": entry["mapping"]}, layer.workload, arch)
    ev = evaluate_sparse(layer.workload, arch, m, spec.for_layer(layer.name))
    return {"energy_pj": ev.energy_pj, "cycles": ev.cycles, "edp_j_cycles": ev.edp}


rows = []
totals = {k: {"energy_pj": 0.0, "cycles": 0} for k in
          ("aware", "dense_same_budget", "dense_committed")}
for layer, a, d, c in zip(layers, aware["layers"], same_budget["layers"], committed["layers"]):
    assert a["name"] == d["name"] == c["name"] == layer.name
    row = {"name": layer.name,
           "aware": {"energy_pj": a["energy_pj"], "cycles": a["cycles"],
                     "edp_j_cycles": a["edp_j_cycles"]},
           "dense_same_budget": sparse_eval(layer, d),
           "dense_committed": sparse_eval(layer, c)}
    row["same_mapping_as_dense_same_budget"] = a["mapping"] == d["mapping"]
    for k in totals:
        totals[k]["energy_pj"] += row[k]["energy_pj"]
        totals[k]["cycles"] += row[k]["cycles"]
    rows.append(row)
for t in totals.values():
    t["edp_j_cycles"] = t["energy_pj"] * 1e-12 * t["cycles"]
out = {"network": "resnet50", "arch": arch.name, "sparsity": "sparsity.yaml",
       "settings": aware["settings"], "totals_with_sparsity": totals,
       "layers_with_a_different_mapping": sum(not r["same_mapping_as_dense_same_budget"]
                                              for r in rows),
       "layers": rows}
print(json.dumps(out, indent=2))
