#!/usr/bin/env bash
# Regenerates everything in this directory: one Llama 3 8B decoder block (no LM head),
# prefill of 2048 tokens and decode of one token at context 4096, swept on the
# simba_like and tpu_like presets (search settings: strategy local, pinned, 100,000
# legal mappings per unique layer shape, seed 0; one mapping per layer by least EDP),
# then one CSV row per layer per sweep and phases.csv (one row per preset and phase).
#   bash results/llm_decoder_block/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")"
for arch in simba_like tpu_like; do
    loopscape sweep llama3_8b --phase prefill --seq 2048 --blocks 1 --no-lm-head \
        --arch "$arch" --strategy local --jobs 2 --out "$arch/prefill" --fresh
    loopscape sweep llama3_8b --phase decode --context 4096 --blocks 1 --no-lm-head \
        --arch "$arch" --strategy local --jobs 2 --out "$arch/decode" --fresh
    for phase in prefill decode; do
        loopscape export "$arch/$phase" --format csv --out "$arch/$phase.csv"
    done
done
python3 - <<'PY'
import csv, json
rows = []
for arch in ("simba_like", "tpu_like"):
    for phase in ("prefill", "decode"):
        s = json.load(open(f"{arch}/{phase}/summary.json"))
        energy = s["energy_breakdown_pj"]
        top = s["bottlenecks"]["by_step"][0]
        rows.append({"arch": arch, "phase": phase, "macs": s["macs"],
                     "energy_pj": s["energy_pj"], "cycles": s["cycles"],
                     "utilization": s["utilization"],
                     "dram_energy_share": energy["DRAM"] / s["energy_pj"],
                     "mac_energy_share": energy["mac"] / s["energy_pj"],
                     "bandwidth_cycles_share": s["bottlenecks"]["bandwidth_cycles_share"],
                     "top_binding_step": (f"{top['step']} {top['name']}" if top["step"]
                                          else "none (every PE busy every cycle)"),
                     "top_binding_step_cycles_share": top["cycles_share"],
                     "sweep_seconds": round(s["run"]["seconds"], 1)})
with open("phases.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
PY
