#!/usr/bin/env bash
# Regenerates this directory: a ResNet-50 sweep on the Eyeriss-like design under its own
# constraints with sparsity (sparsity.yaml: the eyeriss_like_sparse formats and gating,
# weights 0.3 and inputs 0.56 except the dense conv1; sources in the file), local search,
# 20,000 legal mappings per unique layer, seed 0, one mapping per layer by least EDP;
# then compare.json: per layer, the sparsity-aware choice against the choice of a dense
# sweep with the same settings and against the committed dense sweep's choice
# (../resnet50_eyeriss_like), all evaluated with the same sparsity.
# About 12 minutes on a 2-core machine.
#   bash results/resnet50_eyeriss_like_sparse/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")"
loopscape sweep resnet50 --arch eyeriss_like --constraints eyeriss_like_constraints \
    --sparsity sparsity.yaml --strategy local --budget 20000 --jobs 2 --out sweep --fresh
python3 compare.py 2 > compare.json
