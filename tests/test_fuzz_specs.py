"""Fuzz: mutated preset YAML files (keys dropped, types changed, values scaled by 0, -1,
1e12, 1e30 or inf, keys renamed or duplicated, text truncated or garbage) either load or
give our clean SpecError; nothing else escapes, nothing hangs, and every spec that loads
is evaluated (scalar and batched) without an overflow.

Derandomized (the same examples every run) with a bounded example count."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, event, given, settings, strategies as st

from loopscape.costmodels import evaluate
from loopscape.costmodels.batched import BatchEvaluator
from loopscape.spaces.encoding import encode
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import load_arch, load_workload
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.presets import load_arch_preset, load_layer_preset

PRESETS = Path(__file__).resolve().parents[1] / "spaces" / "presets"
LAYERS = ["conv1d_ex04", "eyexam_conv1d", "resnet50_conv2_x_3x3",
          "mobilenet_v2_features3_dw", "bert_base_ffn1"]
ARCHS = ["simple_weight_stationary", "simple_output_stationary", "eyeriss_like",
         "tpu_like", "simba_like"]
SCALES = [0, -1, 1e12, 1e30, float("inf"), 10 ** 12, 10 ** 30]
MUTATIONS = ["drop", "type", "scale", "rename", "duplicate", "truncate", "garbage"]
MAX_SECONDS = 5.0  # per case: loading, sizing the mapspace and evaluating


def _paths(node, prefix=()):
    """Every path (tuple of keys/indices) to a value in a parsed document."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _scaled(value, factor):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return factor
    if isinstance(factor, float) or isinstance(value, float):
        return float(value) * float(factor) if factor == factor else factor
    return value * factor


def _mutate(text: str, kind: str, pick: int, factor, junk: str) -> str:
    if kind == "truncate":
        return text[: pick % max(1, len(text))]
    if kind == "garbage":
        at = pick % max(1, len(text))
        return text[:at] + junk + text[at:]
    doc = yaml.safe_load(text)
    paths = _paths(doc)
    path = paths[pick % len(paths)]
    parent = _get(doc, path[:-1])
    key = path[-1]
    if kind == "drop":
        del parent[key]
    elif kind == "type":
        parent[key] = [junk] if not isinstance(parent[key], list) else junk
    elif kind == "scale":
        parent[key] = _scaled(parent[key], factor)
    elif kind == "rename" and isinstance(parent, dict):
        parent[f"{key}_x"] = parent.pop(key)
    elif kind == "duplicate":
        # The same key twice: yaml.dump cannot write that, so splice the text.
        dumped = yaml.safe_dump(doc, sort_keys=False)
        lines = dumped.splitlines(keepends=True)
        i = pick % len(lines)
        return "".join(lines[: i + 1] + [lines[i]] + lines[i + 1:])
    return yaml.safe_dump(doc, sort_keys=False)


def _evaluate_without_overflow(workload, arch) -> None:
    space = Mapspace(workload, arch)
    space.sizes()
    drawn = space.sample(8, seed=0)
    if not drawn:
        return
    mappings = [m for _, m in drawn]
    batch = BatchEvaluator(workload, arch)(encode(workload, arch, mappings))
    for r, m in enumerate(mappings):
        ev = evaluate(workload, arch, m)
        assert ev.cycles == int(batch.cycles[r]) >= 1
        assert np.isfinite(ev.energy_pj) and ev.energy_pj >= 0
        assert ev.energy_pj == batch.energy_pj[r] or abs(ev.energy_pj - batch.energy_pj[r]) \
            <= 1e-9 * ev.energy_pj


@settings(max_examples=200, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(is_layer=st.booleans(), which=st.integers(0, 4),
       kind=st.sampled_from(MUTATIONS), pick=st.integers(0, 10 ** 6),
       factor=st.sampled_from(SCALES),
       junk=st.sampled_from(["@", "{", "]", "\t", "&a", "*a", "!!python/object:os.system",
                             "\x00", "true", "- -", ": :"]))
def test_mutated_specs_load_cleanly_or_fail_cleanly(tmp_path_factory, is_layer, which, kind,
                                                    pick, factor, junk):
    name = (LAYERS if is_layer else ARCHS)[which]
    text = _mutate((PRESETS / f"{name}.yaml").read_text(), kind, pick, factor, junk)
    path = tmp_path_factory.mktemp("fuzz") / "spec.yaml"
    path.write_text(text)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
            warnings.simplefilter("error", RuntimeWarning)
            if is_layer:
                workload = load_workload(path)
                arch = load_arch_preset("simple_weight_stationary")
            else:
                arch = load_arch(path)
                workload = load_layer_preset("conv1d_ex04")
            _evaluate_without_overflow(workload, arch)
        event("accepted and evaluated")
    except SpecError as e:
        event("refused with a SpecError")
        assert str(e).strip() and "\n" not in str(e)
    assert time.perf_counter() - t0 < MAX_SECONDS, (kind, name)
