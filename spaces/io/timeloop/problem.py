"""Timeloop's problem (``shape`` and ``instance``) -> a loopscape Workload."""

from __future__ import annotations

from typing import Any

from ...errors import SpecError
from ...workload import Tensor, Workload
from ..strict import (Where, did_you_mean, expect_bool, expect_int, expect_list, expect_map,
                      expect_names)

__all__ = ["parse_problem"]


_SHAPE_KEYS = ("name", "dimensions", "data_spaces", "coefficients", "version")
_DATASPACE_KEYS = ("name", "projection", "read_write", "ranks")


def parse_problem(raw: Any, at: Where) -> Workload:
    problem = expect_map(raw, at)
    for key in problem:
        if key not in ("shape", "instance", "version"):
            raise at.at(str(key)).error(f"unknown problem key {key!r}"
                                        f"{did_you_mean(key, ('shape', 'instance', 'version'))}",
                                        fix="a problem has 'shape' and 'instance'")
    if "shape" not in problem:
        raise at.error("the problem has no 'shape'", fix="give the processed problem with "
                       "shape (dimensions, data_spaces) and instance")
    if isinstance(problem["shape"], str):
        raise at.at("shape").error(
            f"named shapes ({problem['shape']!r}) are not supported",
            fix="use the processed input (parsed-processed-input.yaml), which spells the "
                "shape out")
    shape_at = at.at("shape")
    shape = expect_map(problem["shape"], shape_at)
    for key in shape:
        if key == "flatten":
            raise shape_at.at("flatten").error("flattened dimensions are not supported",
                                               fix="describe the layer without 'flatten'")
        if key not in _SHAPE_KEYS:
            raise shape_at.at(str(key)).error(f"unknown shape key {key!r}"
                                              f"{did_you_mean(key, _SHAPE_KEYS)}",
                                              fix=f"a shape has {', '.join(_SHAPE_KEYS)}")
    dims_at = shape_at.at("dimensions")
    dims = expect_names(shape.get("dimensions"), dims_at, lenient=True)
    if not dims:
        raise dims_at.error("the shape has no dimensions")
    if len(set(dims)) != len(dims):
        raise dims_at.error(f"dimension names repeat: {dims}")

    # Coefficients: defaults from the shape, overrides from the instance.
    coeff_default: dict[str, int] = {}
    coeffs_at = shape_at.at("coefficients")
    for i, c in enumerate(expect_list(shape.get("coefficients") or [], coeffs_at)):
        c_at = coeffs_at.at(i)
        c = expect_map(c, c_at)
        if not isinstance(c.get("name"), str):
            raise c_at.at("name").error("a coefficient needs a name")
        if "default" not in c:
            raise c_at.at("default").error(f"coefficient {c['name']!r} has no default")
        coeff_default[c["name"]] = expect_int(c["default"], c_at.at("default"),
                                            minimum=-(2 ** 62), lenient=True)

    inst_at = at.at("instance")
    if "instance" not in problem:
        raise inst_at.error("the problem has no 'instance'",
                            fix="give the dimension bounds under problem.instance")
    instance = expect_map(problem["instance"], inst_at)
    bounds = []
    for d in dims:
        if d not in instance:
            raise inst_at.at(d).error(f"no bound for dimension {d}",
                                      fix=f"give every dimension of {dims} a size")
        bounds.append(expect_int(instance[d], inst_at.at(d), minimum=1, lenient=True))
    coeff = dict(coeff_default)
    for name in coeff_default:
        if name in instance:
            coeff[name] = expect_int(instance[name], inst_at.at(name), minimum=-(2 ** 62),
                                     lenient=True)

    tensors = []
    ds_at = shape_at.at("data_spaces")
    data_spaces = expect_list(shape.get("data_spaces"), ds_at)
    for i, ds in enumerate(data_spaces):
        t_at = ds_at.at(i)
        ds = expect_map(ds, t_at)
        for key in ds:
            if key not in _DATASPACE_KEYS:
                raise t_at.at(str(key)).error(f"unknown data-space key {key!r}"
                                              f"{did_you_mean(key, _DATASPACE_KEYS)}",
                                              fix=f"a data space has {', '.join(_DATASPACE_KEYS)}")
        name = ds.get("name")
        if not isinstance(name, str) or not name:
            raise t_at.at("name").error("a data space needs a name")
        rw = expect_bool(ds.get("read_write", False), t_at.at("read_write"), lenient=True)
        axes = _parse_projection(ds.get("projection"), t_at.at("projection"), dims, coeff)
        tensors.append(Tensor(name, axes, rw))

    name = shape.get("name") if isinstance(shape.get("name"), str) else "timeloop"
    params = tuple((k, v) for k, v in coeff.items())
    try:
        return Workload(name, tuple(dims), tuple(bounds), tuple(tensors), "einsum", params)
    except SpecError as e:
        raise e.located(at.source, "problem.shape") from None


def _parse_projection(raw: Any, at: Where, dims: list[str],
                      coeff: dict[str, int]) -> tuple[tuple[tuple[int, str], ...], ...]:
    """Timeloop projections: ``[C, M]`` (one dimension per axis) or a list of axes, each
    a list of terms ``[dim]`` or ``[dim, coefficient_name]``."""
    axes_raw = expect_list(raw, at)
    if not axes_raw:
        raise at.error("the projection is empty")
    axes = []
    for a, axis in enumerate(axes_raw):
        a_at = at.at(a)
        if isinstance(axis, str):  # flat form: one dimension per axis
            axis = [[axis]]
        terms = []
        for t, term in enumerate(expect_list(axis, a_at)):
            term_at = a_at.at(t)
            term = expect_list(term, term_at)
            if len(term) not in (1, 2):
                raise term_at.error(f"a term is [dimension] or [dimension, coefficient], got "
                                    f"{term!r}")
            dim = term[0]
            if dim not in dims:
                raise term_at.error(f"unknown dimension {dim!r}", fix=f"use one of {dims}")
            c = 1
            if len(term) == 2:
                name = term[1]
                if isinstance(name, str) and name in coeff:
                    c = coeff[name]
                elif isinstance(name, int) and not isinstance(name, bool):
                    c = name
                else:
                    raise term_at.error(f"unknown coefficient {name!r}",
                                        fix=f"declare it under problem.shape.coefficients "
                                            f"(known: {sorted(coeff)})")
            terms.append((c, dim))
        if not terms:
            raise a_at.error("a projection axis needs at least one term")
        axes.append(tuple(terms))
    return tuple(axes)
