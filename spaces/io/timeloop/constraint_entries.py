"""Reading single Timeloop constraint entries: their three spellings, target level,
factor terms, permutation and spatial split. :mod:`.constraints` combines them."""

from __future__ import annotations

import re
from typing import Any, Sequence

from ...arch import Architecture
from ...errors import SpecError
from ...workload import Workload
from ..strict import Where, did_you_mean, expect_list, expect_map
from .common import TimeloopSpec, is_empty

def constraint_targets(raw: Any, at: Where) -> list:
    if is_empty(raw):
        return []
    if isinstance(raw, dict):
        for key in raw:
            if key not in ("targets", "version"):
                raise at.at(str(key)).error(f"unknown constraints key {key!r}"
                                            f"{did_you_mean(key, ('targets', 'version'))}",
                                            fix="constraints are a list under 'targets'")
        return list(expect_list(raw.get("targets") or [], at.at("targets")))
    return list(expect_list(raw, at))



CONSTRAINT_TYPES = {"temporal": "temporal", "spatial": "spatial", "bypass": "bypass",
                     "bypassing": "bypass", "datatype": "bypass", "dataspace": "bypass",
                     "utilization": "utilization", "parallelism": "utilization"}
CONSTRAINT_KEYS = {
    "temporal": ("factors", "permutation", "default_max_factor", "default_min_factor"),
    "spatial": ("factors", "permutation", "split", "default_max_factor", "default_min_factor"),
    "bypass": ("keep", "bypass"),
    "utilization": ("min",),
}
CONSTRAINT_COMMON = ("target", "name", "type", "attributes")
# Keys Timeloop reads that change what it computes in ways loopscape does not model;
# accepted only when empty.
CONSTRAINT_UNSUPPORTED = {
    "no_link_transfer": "link transfers", "no_reuse": "reuse switches",
    "no_multicast_no_reduction": "multicast switches", "no_temporal_reuse": "reuse switches",
    "rmw_first_update": "read-modify-write switches", "no_coalesce": "coalescing switches",
    "remainders": "imperfect factorization (remainders)",
}
_CFACTOR_RE = re.compile(r"([A-Za-z]+)\s*(<=|>=|=*)\s*([0-9]+)")
BOUND_NAMES = {"exact": "exact factor", "min": "minimum", "max": "maximum"}


class Entry:
    """One flat constraint: its keys (``attributes`` merged in) and where each sits."""

    def __init__(self, data: dict, at: Where, locs: dict[str, Where]):
        self.data = data
        self.at = at
        self.locs = locs

    def where(self, key: str) -> Where:
        return self.locs.get(key, self.at.at(key))

    def label(self) -> str:
        return self.at.key or "<constraint>"


def flat_entries(targets: list, at: Where) -> list[Entry]:
    """Timeloop's three spellings of one constraint: flat (``target``, ``type``,
    ``factors``...), with an ``attributes`` map, or a target with a ``constraints`` list."""
    out: list[Entry] = []
    for i, raw in enumerate(targets):
        t_at = at.at(i)
        raw = expect_map(raw, t_at)
        if "constraints" in raw:
            for key in raw:
                if key not in ("target", "name", "constraints"):
                    raise t_at.at(str(key)).error(
                        f"unknown key {key!r} next to a 'constraints' list"
                        f"{did_you_mean(key, ('target', 'name', 'constraints'))}",
                        fix="put type, factors, ... in the items of 'constraints'")
            c_at = t_at.at("constraints")
            for j, sub in enumerate(expect_list(raw["constraints"], c_at)):
                s_at = c_at.at(j)
                sub = expect_map(sub, s_at)
                for key in ("target", "name"):
                    if key in sub:
                        raise s_at.at(key).error(f"{key!r} inside a 'constraints' list",
                                                 fix="the target is given once, above the list")
                data = {k: raw[k] for k in ("target", "name") if k in raw}
                data.update(sub)
                locs = {k: t_at.at(k) for k in ("target", "name") if k in raw}
                out.append(merge_attributes(data, s_at, locs))
        else:
            out.append(merge_attributes(dict(raw), t_at, {}))
    return out


def merge_attributes(data: dict, at: Where, locs: dict[str, Where]) -> Entry:
    if "attributes" in data:
        a_at = at.at("attributes")
        raw = data.pop("attributes")
        attrs = {} if raw is None else expect_map(raw, a_at)
        for k, v in attrs.items():
            if k in data:
                raise a_at.at(str(k)).error(f"{k!r} is given both in the entry and in its "
                                            f"attributes", fix="give it once")
            data[k] = v
            locs[k] = a_at.at(str(k))
    return Entry(data, at, locs)


def constraint_level(e: Entry, arch: Architecture) -> int:
    """Our level index (outermost first) of an entry's ``target`` (or ``name``): a level
    name or a Timeloop storage level id (0 = innermost)."""
    names = list(arch.level_names)
    n = len(names)
    keys = [k for k in ("target", "name") if k in e.data]
    if not keys:
        raise e.at.error("the constraint has no target", fix=f"add target: one of {names}")
    if len(keys) == 2 and e.data["target"] != e.data["name"]:
        raise e.where("name").error("'target' and 'name' name different levels",
                                    fix="give only target")
    target = e.data[keys[0]]
    t_at = e.where(keys[0])
    if isinstance(target, int) and not isinstance(target, bool):
        if not 0 <= target < n:
            raise t_at.error(f"storage level id {target} out of range 0..{n - 1} "
                             f"(0 is the innermost level)", fix=f"or use a name: {names}")
        return n - 1 - target
    if isinstance(target, str) and target in names:
        return names.index(target)
    raise t_at.error(f"unknown target {target!r}",
                     fix=f"use one of the storage levels {names} (outermost first)")


def constraint_factors(raw: Any, at: Where, workload: Workload
                        ) -> list[tuple[str, str, int, str]]:
    """Timeloop's factor terms: ``D=k`` / ``Dk`` (exact; 0 = the whole bound),
    ``D<=k`` (maximum), ``D>=k`` (minimum), separated by spaces or commas; text after
    ``#`` is a comment. Returns (dim, "exact"|"max"|"min", value, term text)."""
    if raw is None:
        return []
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        text = " ".join(raw)
    elif isinstance(raw, str):
        text = raw
    else:
        raise at.error(f"expected factors such as 'C=1 M<=8 P>=2', got {raw!r}")
    text = text.split("#", 1)[0]
    leftover = _CFACTOR_RE.sub(" ", text)
    if leftover.strip(" ,\t\n"):
        raise at.error(f"cannot read factors {raw!r} (left over: {leftover.strip()!r})",
                       fix="write terms such as 'C=1', 'C1', 'M<=8', 'P>=2'")
    out: list[tuple[str, str, int, str]] = []
    for m in _CFACTOR_RE.finditer(text):
        dim, op, value = m.group(1), m.group(2), int(m.group(3))
        kind = {"<=": "max", ">=": "min"}.get(op, "exact")
        if dim not in workload.dims:
            raise at.error(f"unknown dimension {dim!r} in factors {raw!r}",
                           fix=f"use dimensions of the problem: {list(workload.dims)}")
        if any(d == dim and k == kind for d, k, _, _ in out):
            raise at.error(f"{dim} is given two {BOUND_NAMES[kind]}s in {raw!r}",
                           fix="give each once")
        if kind != "exact" and value <= 0:
            raise at.error(f"{m.group(0)!r}: a {BOUND_NAMES[kind]} factor must be positive",
                           fix="use an integer >= 1")
        if kind == "exact" and value > workload.bound(dim):
            raise at.error(f"{m.group(0)!r} exceeds the problem's {dim} = "
                           f"{workload.bound(dim)} (Timeloop ignores such a factor with a "
                           f"warning)", fix=f"remove it, or write {dim}=0 for the whole bound")
        out.append((dim, kind, value, m.group(0)))
    return out


def constraint_permutation(raw: Any, at: Where, workload: Workload
                            ) -> tuple[list[str], list[str]]:
    """(prefix, suffix), both innermost first: the dimensions before ``_`` are the
    innermost loops, those after it the outermost loops; the rest may go in any order."""
    if raw is None:
        return [], []
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        tokens = list(raw)
    elif isinstance(raw, str):
        tokens = [ch for ch in raw.split("#", 1)[0] if not ch.isspace()]
    else:
        raise at.error(f"expected a permutation string such as 'RPK' or 'RS_PQ', got {raw!r}")
    prefix: list[str] = []
    suffix: list[str] = []
    part = prefix
    for tok in tokens:
        if tok == "_":
            part = suffix
            continue
        if tok not in workload.dims:
            raise at.error(f"unknown dimension {tok!r} in permutation {raw!r}",
                           fix=f"use dimensions of the problem: {list(workload.dims)}")
        if tok in prefix or tok in suffix:
            raise at.error(f"{tok} appears twice in permutation {raw!r}", fix="list it once")
        part.append(tok)
    return prefix, suffix


def split_axes(prefix: list[str], suffix: list[str], split: int, dims: Sequence[str],
                two_d: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Dimensions allowed on X and on Y for a spatial ``split``. Timeloop orders the
    level's loops as prefix + (unspecified dimensions, any order) + suffix, innermost
    first, and puts positions below ``split`` on X. Unspecified dimensions straddling the
    split may land on either axis. Without a permutation a 1-D level uses the problem's
    dimension order (Timeloop's canonical permutation)."""
    if not prefix and not suffix and not two_d:
        prefix = list(dims)
    infix = [d for d in dims if d not in prefix and d not in suffix]
    n = len(dims)
    on_x: set[str] = {d for k, d in enumerate(prefix) if k < split}
    on_y: set[str] = {d for k, d in enumerate(prefix) if k >= split}
    lo, hi = len(prefix), len(prefix) + len(infix)  # infix positions lo..hi-1
    if hi <= split:
        on_x |= set(infix)
    elif lo >= split:
        on_y |= set(infix)
    else:
        on_x |= set(infix)
        on_y |= set(infix)
    for k, d in enumerate(suffix):
        (on_x if n - len(suffix) + k < split else on_y).add(d)
    return tuple(d for d in dims if d in on_x), tuple(d for d in dims if d in on_y)


def targets_of(spec_or_targets: Any, source: str) -> list[tuple[list, Where]]:
    if isinstance(spec_or_targets, TimeloopSpec):
        raw = spec_or_targets.constraints
        if raw is None:
            return []
        return [(constraint_targets(raw, Where(source)), Where(source, "targets"))]
    if isinstance(spec_or_targets, list):
        return [(spec_or_targets, Where(source, "targets"))]
    if isinstance(spec_or_targets, dict):
        keys = ("architecture_constraints", "mapspace_constraints")
        if any(k in spec_or_targets for k in keys):
            out = []
            for k in keys:
                if k in spec_or_targets:
                    out.append((constraint_targets(spec_or_targets[k], Where(source, k)),
                                Where(source, f"{k}.targets")))
            return out
        return [(constraint_targets(spec_or_targets, Where(source)), Where(source, "targets"))]
    raise SpecError(f"expected a TimeloopSpec, a Timeloop document, {{'targets': [...]}} or a "
                    f"list of constraints, got {type(spec_or_targets).__name__}", source=source)
