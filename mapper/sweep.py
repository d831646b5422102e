"""Whole-network sweeps: search each unique layer shape once, pick one mapping per layer,
add up the network.

Layers with identical shapes share one search (its seed derives from the sweep seed
and the shape, so it does not depend on which other layers run or in what order).
Searches run in parallel through joblib: local processes, or a Dask cluster through
joblib's Dask backend. With an output directory every finished layer is written as a
complete result directory (``DIR/layers/<shape_key>/``, ``front.json`` last) the moment
it arrives; a rerun with the same spec skips finished layers, so a killed sweep loses
only the layers in flight. The spec (network, architecture, constraints, search
settings) is kept in ``DIR/sweep.json`` and a rerun with a different one is refused
rather than mixed with old results. See docs/sweep.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from loopscape.costmodels.eyexam import eyexam
from loopscape.spaces.arch import Architecture
from loopscape.spaces.constraints import Constraints, restrict_constraints
from loopscape.spaces.errors import SpecError
from loopscape.spaces.io import dump_arch, dump_constraints, dump_mapping, dump_workload
from loopscape.spaces.mapping import Mapping
from loopscape.spaces.mapspace import Mapspace
from loopscape.spaces.workload import Workload

from loopscape.costmodels.options import ModelOptions

from .bottlenecks import bottlenecks
from .objectives import parse_objectives
from .result_dir import FRONT_FILE, read_result_dir, write_json_atomic, write_result_dir
from .search import SearchResult, prepare_search, search
from .selection import SelectRule, parse_select, select_points
from loopscape.spaces.sparse_capacity import capacity_arch
from loopscape.spaces.workloads.zoo import ZooLayer, network, network_info

SPEC_FILE = "sweep.json"
SUMMARY_FILE = "summary.json"
LAYERS_DIR = "layers"


@dataclass(frozen=True)
class SweepSettings:
    """How each unique layer is searched (the same for every layer)."""

    strategy: str = "auto"
    objectives: tuple[str, ...] = ("energy_pj", "cycles")
    evaluations: int | None = 100_000
    seconds: float | None = None
    patience: int | None = None
    seed: int = 0
    model: ModelOptions = ModelOptions()  # cost-model semantics and link transfers

    def to_dict(self) -> dict:
        return {"strategy": self.strategy, "objectives": list(self.objectives),
                "evaluations": self.evaluations, "seconds": self.seconds,
                "patience": self.patience, "seed": self.seed, **self.model.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "SweepSettings":
        """The inverse of ``to_dict`` (e.g. a sweep.json's or summary.json's settings);
        settings written before the model options were recorded read as the defaults,
        except link transfers: those sweeps ran without them (then the default)."""
        d = dict(d)
        model = ModelOptions(**{"link_transfers": False,
                                **{k: d.pop(k) for k in ("semantics", "link_transfers")
                                   if k in d}})
        return cls(**{k: tuple(v) if k == "objectives" else v for k, v in d.items()},
                   model=model)


@dataclass(frozen=True)
class LayerFront:
    """One unique shape's search: its front.json data and the front's mappings."""

    key: str
    workload: Workload
    names: tuple[str, ...]  # every network layer of this shape
    data: dict
    mappings: tuple[Mapping, ...]
    resumed: bool


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: ``summary`` is exactly what ``DIR/summary.json`` holds."""

    summary: dict
    fronts: dict[str, LayerFront] = field(repr=False)

    @property
    def energy_pj(self) -> float:
        return self.summary["energy_pj"]

    @property
    def cycles(self) -> int:
        return self.summary["cycles"]

    @property
    def macs(self) -> int:
        return self.summary["macs"]

    @property
    def layers(self) -> list[dict]:
        return self.summary["layers"]


def shape_key(workload: Workload) -> str:
    """A short stable hash of a layer's shape (its name excluded)."""
    body = dump_workload(replace(workload, name="layer"))
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def layer_seed(seed: int, key: str) -> int:
    """The search seed of one shape: fixed by the sweep seed and the shape alone."""
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:8], 16)


def _spec(network: str, keys: Sequence[str], arch: Architecture,
          constraints: Constraints | None, settings: SweepSettings) -> dict:
    return {"network": network, "shapes": list(keys), "architecture": dump_arch(arch),
            "constraints": None if constraints is None else dump_constraints(constraints),
            "settings": settings.to_dict()}


def _check_spec(out: Path, spec: dict, fresh: bool) -> None:
    path = out / SPEC_FILE
    if fresh:
        shutil.rmtree(out / LAYERS_DIR, ignore_errors=True)
        for name in (SPEC_FILE, SUMMARY_FILE):
            (out / name).unlink(missing_ok=True)
        return
    if not path.exists():
        if (out / LAYERS_DIR).exists():
            raise SpecError("the directory holds layer results but no sweep.json",
                            source=str(out), fix="use a new --out DIR, or --fresh to discard "
                                                 "the old layers")
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise SpecError("sweep.json is broken", source=str(path),
                        fix="use --fresh to start the sweep over") from None
    changed = [k for k in spec if old.get(k) != spec[k]]
    if changed:
        names = {"network": "the network", "shapes": "the network's layers",
                 "architecture": "the architecture", "constraints": "the constraints",
                 "settings": "the search settings", "sparsity": "the sparsity"}
        raise SpecError("this directory holds a sweep with a different spec (changed: "
                        + ", ".join(names[k] for k in changed) + ")",
                        source=str(out), key=SPEC_FILE,
                        fix="use a new --out DIR, or --fresh to discard the old results")


def _search_shape(workload: Workload, arch: Architecture, constraints: Constraints | None,
                  settings: SweepSettings, key: str, sparsity=None) -> tuple[str, SearchResult]:
    result = search(workload, arch, constraints, strategy=settings.strategy,
                    objectives=settings.objectives, evaluations=settings.evaluations,
                    seconds=settings.seconds, patience=settings.patience, jobs=1,
                    seed=layer_seed(settings.seed, key), options=settings.model,
                    sparsity=sparsity)
    return key, result


def _prepare(workload: Workload, arch: Architecture, constraints: Constraints | None,
             settings: SweepSettings, key: str, sparsity=None) -> None:
    """The strategy's one-time preparation in this process (``Strategy.prepare``), before
    parallel workers start: on the first run after installing they would each compile
    optimal's kernels at once."""
    space = Mapspace(workload, capacity_arch(arch, workload, sparsity), constraints)
    prepare_search(settings.strategy, space, settings.objectives, settings.seed,
                   settings.model, sparsity)


def _run_parallel(tasks: list, jobs: int, backend: str | None):
    """Yield (key, SearchResult) as searches finish."""
    from joblib import Parallel, delayed, parallel_config
    calls = (delayed(_search_shape)(*t) for t in tasks)
    if backend == "dask":
        with parallel_config(backend="dask"):
            yield from Parallel(n_jobs=-1, return_as="generator_unordered")(calls)
    else:
        yield from Parallel(n_jobs=jobs, return_as="generator_unordered")(calls)


ProgressFn = Callable[[int, int, "LayerFront"], None]


def sweep(layers: Sequence[ZooLayer], arch: Architecture,
          constraints: Constraints | None = None, *, network: str = "network",
          settings: SweepSettings | None = None, select: str | SelectRule = "edp",
          out: str | os.PathLike | None = None, jobs: int = 1, backend: str | None = None,
          fresh: bool = False, progress: ProgressFn | None = None,
          sparsity=None) -> SweepResult:
    """Search every unique layer shape of ``layers`` on ``arch`` and total the network.

    ``select`` picks one point per front for the totals (``edp``, ``energy_pj``,
    ``cycles`` or ``latency<=CYCLES``). ``out`` makes the sweep resumable and writes
    ``summary.json``; ``backend="dask"`` sends the searches to the active Dask client.
    ``progress(done, total, layer_front)`` is called as each shape finishes.
    ``sparsity`` (a SparsitySpec, per-layer densities in its ``layers``) searches with
    the sparse model; layers of one shape but different densities are searched apart.
    """

    def layer_key(layer) -> str:
        sp = None if sparsity is None else sparsity.for_layer(layer.name)
        return shape_key(layer.workload) + ("" if sp is None else f"-s{sp.key()}")
    settings = settings or SweepSettings()
    rule = select if isinstance(select, SelectRule) else parse_select(select)
    if not layers:
        raise SpecError("the network has no layers", key="network",
                        fix="pass a zoo network (`loopscape zoo`) or an ONNX model with "
                            "Conv/Gemm/MatMul nodes")
    if jobs < 1:
        raise SpecError(f"jobs must be at least 1, got {jobs}", key="--jobs")
    if backend not in (None, "loky", "dask"):
        raise SpecError(f"unknown backend {backend!r}", key="backend",
                        fix="use None (local processes) or 'dask'")
    settings = replace(settings, objectives=tuple(parse_objectives(settings.objectives, arch)))
    if settings.evaluations is None and settings.seconds is None:
        raise SpecError("give an evaluation budget or a time limit per layer", key="--budget",
                        fix="e.g. --budget 100000 or --time 5")
    start = time.perf_counter()

    groups: dict[str, tuple[Workload, list[str]]] = {}
    sparse_of: dict[str, object] = {}
    for layer in layers:
        key = layer_key(layer)
        groups.setdefault(key, (layer.workload, []))[1].append(layer.name)
        sparse_of[key] = None if sparsity is None else sparsity.for_layer(layer.name)
    per_layer: dict[str, Constraints | None] = {}
    pruned: dict[str, int] = {}  # pruned mapspace size per shape: the dispatch order
    for key, (w, names) in groups.items():  # fail fast: a layer that fits no mapping
        try:
            per_layer[key] = None if constraints is None else restrict_constraints(constraints, w)
            pruned[key] = Mapspace(w, capacity_arch(arch, w, sparse_of[key]),
                                   per_layer[key]).pruned_size
        except SpecError as e:
            raise SpecError(f"layer {names[0]}: {e.message}", source=e.source, key=e.key,
                            fix=e.fix) from None

    outp = Path(out) if out is not None else None
    if outp is not None:
        outp.mkdir(parents=True, exist_ok=True)
        spec = _spec(network, list(groups), arch, constraints, settings)
        if sparsity is not None:
            spec["sparsity"] = sparsity.key()
        _check_spec(outp, spec, fresh)
        write_json_atomic(spec, outp / SPEC_FILE)

    fronts: dict[str, LayerFront] = {}
    todo = []
    for key, (w, names) in groups.items():
        d = outp / LAYERS_DIR / key if outp is not None else None
        if d is not None and (d / FRONT_FILE).is_file():
            rd = read_result_dir(d)
            fronts[key] = LayerFront(key, w, tuple(names), rd.data, rd.mappings, True)
        else:
            todo.append((w, arch, per_layer[key], settings, key, sparse_of[key]))
    total = len(groups)
    if progress is not None:
        for lf in fronts.values():
            progress(len(fronts), total, lf)

    if jobs == 1 and backend is None:
        results = (_search_shape(*t) for t in todo)
    else:
        # the largest spaces first (then network order), so no long search starts last
        # while the other workers idle; each shape's result does not depend on the order
        todo.sort(key=lambda t: -pruned[t[4]])
        if todo:  # compile optimal's kernels once here: the workers then load them
            _prepare(*todo[0])
        results = _run_parallel(todo, jobs, backend)
    for key, result in results:
        w, names = groups[key]
        data = result.to_dict()
        if outp is not None:
            d = outp / LAYERS_DIR / key
            write_result_dir(result, d, w, arch, per_layer[key])
            data = json.loads((d / FRONT_FILE).read_text(encoding="utf-8"))
        lf = LayerFront(key, w, tuple(names), data, tuple(p.mapping for p in result.front),
                        False)
        fronts[key] = lf
        if progress is not None:
            progress(len(fronts), total, lf)

    summary = _summarize(network, layers, groups, fronts, arch, constraints, per_layer,
                         settings, rule, layer_key, sparse_of)
    summary["run"] = {"seconds": time.perf_counter() - start,
                      "searched": sum(not f.resumed for f in fronts.values()),
                      "resumed": sum(f.resumed for f in fronts.values()),
                      "jobs": jobs, "backend": backend or "local",
                      "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                 f"Python {platform.python_version()}"}
    if outp is not None:
        write_json_atomic(summary, outp / SUMMARY_FILE)
    return SweepResult(summary, fronts)


def _breakdown(metrics: dict, arch: Architecture) -> dict[str, float]:
    out = {name: lvl["energy_pj"] for name, lvl in metrics["levels"].items()}
    out[arch.compute.name] = metrics["compute_energy_pj"]
    return out


def _summarize(network: str, layers: Sequence[ZooLayer], groups: dict, fronts: dict,
               arch: Architecture, constraints: Constraints | None, per_layer: dict,
               settings: SweepSettings, rule: SelectRule, layer_key=None,
               sparse_of: dict | None = None) -> dict:
    layer_key = layer_key or (lambda layer: shape_key(layer.workload))
    sparse_of = sparse_of or {}
    keys = list(groups)
    metrics = [[p["metrics"] for p in fronts[k].data["front"]] for k in keys]
    counts = [len(groups[k][1]) for k in keys]
    chosen = dict(zip(keys, select_points(metrics, rule, counts)))
    # Eyexam's steps are dense bounds; a sparse layer's mapping may only fit compressed.
    exams = {k: None if sparse_of.get(k) is not None else eyexam(
        fronts[k].workload, arch, fronts[k].mappings[chosen[k]], per_layer[k],
        settings.model).summary() for k in keys}
    entries = []
    totals = {"energy_pj": 0.0, "cycles": 0, "macs": 0}
    breakdown: dict[str, float] = {}
    for index, layer in enumerate(layers):
        key = layer_key(layer)
        k = chosen[key]
        m = fronts[key].data["front"][k]["metrics"]
        parts = _breakdown(m, arch)
        entries.append({
            "index": index, "name": layer.name, "dims": layer.workload.shape,
            "shape_key": key, "result_dir": f"{LAYERS_DIR}/{key}", "front_index": k,
            "macs": m["macs"], "energy_pj": m["energy_pj"], "cycles": m["cycles"],
            "edp_j_cycles": m["edp_j_cycles"], "utilization": m["utilization"],
            "energy_breakdown_pj": parts,
            "mapping": dump_mapping(fronts[key].mappings[k])["mapping"],
            "eyexam": exams[key],
        })
        if sparse_of.get(key) is not None:
            entries[-1].update(actual_computes=m["actual_computes"],
                               densities={t: d.density for t, d in sparse_of[key].densities})
        totals["energy_pj"] += m["energy_pj"]
        totals["cycles"] += m["cycles"]
        totals["macs"] += m["macs"]
        totals["computes"] = totals.get("computes", 0) + m.get("actual_computes", m["macs"]) \
            + m.get("gated_computes", 0)  # sparse: the computes that take a MAC cycle
        for name, v in parts.items():
            breakdown[name] = breakdown.get(name, 0.0) + v
    searches = {}
    for key in keys:
        lf = fronts[key]
        st = lf.data["stats"]
        searches[key] = {"names": list(lf.names), "front_size": len(lf.data["front"]),
                         "evaluated": st["evaluated"], "work": st.get("work", 0),
                         "seconds": st["seconds"],
                         "stopped_by": st["stopped_by"], "resumed": lf.resumed,
                         "optimal": st.get("optimal"), "gap": st.get("gap")}
    return {
        "network": network, "arch": arch.name,
        "constraints": None if constraints is None else constraints.source,
        "select": rule.text, "settings": settings.to_dict(),
        "macs": totals["macs"], "energy_pj": totals["energy_pj"], "cycles": totals["cycles"],
        "edp_j_cycles": totals["energy_pj"] * 1e-12 * totals["cycles"],
        "utilization": totals.get("computes", totals["macs"]) / (
            arch.compute.instances * totals["cycles"]),
        "energy_breakdown_pj": breakdown, "bottlenecks": bottlenecks(entries),
        "unique_shapes": len(keys), "layers": entries, "searches": searches,
    }


def network_layers(source: str, **options) -> tuple[str, list[ZooLayer], list[tuple[str, str]]]:
    """A zoo network name or an ONNX file: (network name, layers, unsupported nodes).
    ``options`` shape a zoo network (e.g. ``phase="decode"``, ``docs/zoo.md``); the
    name then carries the given ones: ``llama3_8b[phase=decode,context=4096]``."""
    options = {k: v for k, v in options.items() if v is not None}
    if source.lower().endswith(".onnx") or Path(source).is_file():
        if options:
            raise SpecError(f"option {next(iter(options))!r} applies to zoo networks, not to "
                            f"an ONNX model", source=source, key=next(iter(options)),
                            fix="export the model with the shapes wanted instead")
        from loopscape.spaces.workloads.onnx import load_onnx
        imported = load_onnx(source)
        return Path(source).stem, list(imported.layers), list(imported.unsupported)
    info = network_info(source)
    layers = network(info.name, **options)
    tag = ",".join(f"{k}={v}" for k, v in options.items())
    return info.name + (f"[{tag}]" if tag else ""), layers, []


__all__ = ["LayerFront", "SweepResult", "SweepSettings", "layer_seed", "network_layers",
           "shape_key", "sweep"]
