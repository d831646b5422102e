#!/usr/bin/env bash
# Regenerates everything in this directory: a ResNet-50 sweep on the Eyeriss-like
# design under its own constraints (search settings: strategy local, pinned, 100,000
# legal mappings per unique layer shape, seed 0; one mapping per layer by least EDP),
# then its CSV summary and plots. About 20 s on a 2-core machine.
#   bash results/resnet50_eyeriss_like/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")"
loopscape sweep resnet50 --arch eyeriss_like --constraints eyeriss_like_constraints \
    --strategy local --jobs 2 --out sweep --fresh
loopscape export sweep --format csv --out summary.csv
loopscape export sweep --format plot --out energy_breakdown.png
key=$(python3 -c "import json; print(next(e['shape_key'] for e in json.load(open('sweep/summary.json'))['layers'] if e['name'] == 'layer1.0.conv2'))")
loopscape export "sweep/layers/$key" --format plot --out front_layer1.0.conv2.png
loopscape export "sweep/layers/$key" --format maptxt --out map_layer1.0.conv2.txt
