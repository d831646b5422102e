"""Strict YAML reading: duplicate keys, syntax errors and wrong types become SpecErrors.

PyYAML silently keeps the last of two equal keys and reads ``1e-3`` as a string; both
hide user mistakes, so files are composed into nodes and converted here, with the dotted
key path of every value known. The small ``expect_*`` helpers check one value each and
raise a SpecError that names the file, the key path and a fix.
"""

from __future__ import annotations

import difflib
import re
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import SpecError
from ..limits import check_limit
from .yaml_safe import check_document

MEMORY = "<memory>"


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` and ``2.5e3`` as floats (YAML 1.2 style)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class Where:
    """A position in a spec: the source (file path or "<memory>") and a dotted key path."""

    source: str
    key: str = ""

    def at(self, key: str | int) -> "Where":
        """The position of a child: ``.name`` for map keys, ``[i]`` for list items."""
        if isinstance(key, int):
            return Where(self.source, f"{self.key}[{key}]")
        return Where(self.source, f"{self.key}.{key}" if self.key else str(key))

    def error(self, message: str, fix: str | None = None) -> SpecError:
        return SpecError(message, source=self.source, key=self.key or None, fix=fix)


def describe(value: Any) -> str:
    """A short phrase naming a value's YAML type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value:g})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return type(value).__name__


# ----------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------

def parse_text(text: str, source: str) -> Any:
    """Parse YAML text into plain Python data; None for an empty document."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = Where(source, f"line {mark.line + 1}, column {mark.column + 1}" if mark else "")
        raise where.error(f"not valid YAML: {e.problem or e.context}",
                          fix="check the indentation, colons and quotes near that line") from None
    except yaml.reader.ReaderError as e:
        raise Where(source).error(f"not valid YAML: {e.reason} (character {e.character!r} at "
                                  f"offset {e.position})",
                                  fix="remove control characters; save as UTF-8 text") from None
    except yaml.YAMLError as e:
        raise Where(source).error(f"not valid YAML: {' '.join(str(e).split())}",
                                  fix="check that this is a YAML text file") from None
    except RecursionError:
        raise Where(source).error("the YAML nests too deeply to read",
                                  fix="specs nest a few levels; check the file") from None
    if node is None:
        return None
    check_document(node, source)
    return _convert(node, Where(source), _Loader(""))


def parse_file(path: str | Path) -> Any:
    """Read and parse one YAML file; None when it holds no document."""
    source = str(path)
    p = Path(path)
    if not p.exists():
        raise Where(source).error("no such file", fix="check the path")
    if p.is_dir():
        raise Where(source).error("is a directory, not a YAML file", fix="name a .yaml file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise Where(source).error("not a text file (not UTF-8)",
                                  fix="pass a YAML text file") from None
    except OSError as e:
        raise Where(source).error(f"cannot read: {e.strerror}",
                                  fix="check the file permissions") from None
    return parse_text(text, source)


def _convert(node: Node, where: Where, loader: _Loader) -> Any:
    if isinstance(node, MappingNode):
        out: dict = {}
        first_line: dict[Any, str] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, ScalarNode):
                raise where.error(f"a map key must be a plain name (line "
                                  f"{knode.start_mark.line + 1})", fix="use simple keys")
            key = _scalar(knode, where, loader)
            if isinstance(key, (list, dict)):
                raise where.error("a map key must be a plain name", fix="use simple keys")
            mark = knode.start_mark
            line = f"line {mark.line + 1}, column {mark.column + 1}"
            if key in out:
                raise where.at(str(key)).error(
                    f"duplicate key {key!r} ({first_line[key]} and {line}); YAML would "
                    f"silently keep only the last one",
                    fix="remove or rename one of them")
            first_line[key] = line
            out[key] = _convert(vnode, where.at(str(key)), loader)
        return out
    if isinstance(node, SequenceNode):
        return [_convert(v, where.at(_label(v, i)), loader) for i, v in enumerate(node.value)]
    return _scalar(node, where, loader)


def _label(node: Node, index: int) -> str | int:
    """A list item's name in key paths: its ``name``/``target`` value, else its index."""
    if isinstance(node, MappingNode):
        for knode, vnode in node.value:
            if (isinstance(knode, ScalarNode) and knode.value in ("name", "target")
                    and isinstance(vnode, ScalarNode) and vnode.value.strip()):
                return vnode.value
    return index


def _scalar(node: Node, where: Where, loader: _Loader) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        raise where.error(f"cannot read value at line {node.start_mark.line + 1}: "
                          f"{getattr(e, 'problem', e)}",
                          fix="loopscape files use plain YAML values, no custom !tags") from None


# ----------------------------------------------------------------------------------
# Typed access
# ----------------------------------------------------------------------------------

def did_you_mean(key: Any, known: Iterable[str]) -> str:
    """" (did you mean 'depth'?)" for a key close to one of ``known``, else ""."""
    close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_key(key: Any, where: Where, known: Iterable[str], *, what: str = "key",
                fix: str | None = None) -> SpecError:
    """The error for a key that is not one of ``known``: it names the key and the closest
    known one. ``where`` is the position of the key itself."""
    known = list(known)
    hint = did_you_mean(key, known)
    return where.error(f"unknown {what} {key!r}{hint}",
                       fix=fix or f"allowed keys here: {', '.join(map(str, known))}")


def expect_map(value: Any, where: Where, *, allowed: Sequence[str] | None = None,
               required: Sequence[str] = (), what: str = "a map") -> dict:
    """A map with only ``allowed`` keys (any keys when None) and every ``required`` key."""
    if not isinstance(value, dict):
        fix = (f"write it as a map of {', '.join(allowed)}" if allowed
               else "write it as a YAML map (key: value lines)")
        raise where.error(f"expected {what}, got {describe(value)}", fix=fix)
    for k in value if allowed is not None else ():
        if k not in allowed:
            raise unknown_key(k, where.at(str(k)), allowed)
    for k in required:
        if k not in value:
            raise where.error(f"missing required key {k!r}",
                              fix=f"add {k}: (required keys here: {', '.join(required)})")
    return value


def expect_int(value: Any, where: Where, *, minimum: int = 1, lenient: bool = False,
               limit: str | None = None) -> int:
    """An integer (not a boolean) of at least ``minimum``. ``lenient`` (for files other
    tools wrote, such as Timeloop's) also takes integral floats (``2.0``) and numeric
    text (``"16"``). Given ``limit`` (a name in spaces/limits.py), the value must
    also be within that limit."""
    if lenient and not isinstance(value, bool) and isinstance(value, (str, float)):
        v = expect_number(value, where, lenient=True)
        if not math.isfinite(v) or v != int(v):
            raise where.error(f"expected a whole number, got {value!r}",
                              fix="write an integer such as 16")
        value = int(v)
    if isinstance(value, bool):
        raise where.error(f"expected an integer, got {describe(value)}",
                          fix="write a number; true/false/yes/no/on/off are booleans in YAML")
    if isinstance(value, float) and value.is_integer():
        raise where.error(f"expected an integer, got {describe(value)}",
                          fix=f"write {int(value)} without a decimal point")
    if not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            fix = f"write {value.strip()} without quotes"
        else:
            fix = f"write a whole number, e.g. {max(minimum, 1)}"
        raise where.error(f"expected an integer, got {describe(value)}", fix=fix)
    if value < minimum:
        what = "positive" if minimum == 1 else f"at least {minimum}"
        raise where.error(f"must be {what}, got {value}",
                          fix=f"use an integer of at least {minimum}")
    if limit is not None:
        check_limit(value, limit, key=where.key or None, source=where.source)
    return value


def expect_number(value: Any, where: Where, *, positive: bool = False,
                  maximum: float | None = None, minimum: float | None = None,
                  lenient: bool = False) -> int | float:
    """A real number (not a boolean); non-negative (at least ``minimum``), or positive when
    ``positive``. ``lenient`` (for files other tools wrote, such as Timeloop's) also takes
    numeric text (``"1e-3"``), returns a float and has no lower bound by default."""
    if minimum is None:
        minimum = -math.inf if lenient else 0.0
    if lenient and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if lenient and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fix = "write a plain number, e.g. 1.5 or 2e-3"
        if isinstance(value, str):
            try:
                float(value)
                fix = f"write {value.strip()} without quotes"
            except ValueError:
                pass
        raise where.error(f"expected a number, got {describe(value)}", fix=fix)
    if (value != value or value in (float("inf"), float("-inf"))) and not lenient:
        raise where.error(f"expected a finite number, got {value}", fix="write a finite number")
    if positive and value <= 0:
        raise where.error(f"must be positive, got {value:g}", fix="use a number > 0")
    if value < minimum:
        what = "non-negative" if minimum == 0 else f"at least {minimum:g}"
        raise where.error(f"must be {what}, got {value:g}",
                          fix=f"use a number >= {minimum:g}")
    if maximum is not None and value > maximum:
        raise where.error(f"must be at most {maximum:g}, got {value:g}",
                          fix=f"use a number <= {maximum:g}")
    return value


def expect_str(value: Any, where: Where, *, nonempty: bool = True) -> str:
    if not isinstance(value, str):
        raise where.error(f"expected a string, got {describe(value)}",
                          fix="write text, quoted if it looks like a number")
    if nonempty and not value.strip():
        raise where.error("must not be empty", fix="write a name")
    return value


def expect_bool(value: Any, where: Where, *, lenient: bool = False) -> bool:
    """true or false; ``lenient`` also takes the text "true"/"false" (any case)."""
    if lenient and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise where.error(f"expected true or false, got {describe(value)}",
                          fix="write true or false")
    return value


def expect_list(value: Any, where: Where, *, what: str = "a list") -> list:
    if not isinstance(value, list):
        raise where.error(f"expected {what}, got {describe(value)}",
                          fix="write a YAML list, e.g. [a, b] or one '- item' per line")
    return value


def expect_names(value: Any, where: Where, *, known: Iterable[str] | None = None,
                 what: str = "name", lenient: bool = False) -> tuple[str, ...]:
    """A list of distinct names; with ``known``, each must be one of them. ``lenient``
    (Timeloop's spelling) also takes null (no names) and one name written alone, and
    lets a name repeat."""
    if lenient and value is None:
        return ()
    if lenient and isinstance(value, str):
        value = [value]
    items = expect_list(value, where, what=f"a list of {what}s")
    known_list = list(known) if known is not None else None
    seen: list[str] = []
    for i, item in enumerate(items):
        name = expect_str(item, where.at(i))
        if name in seen and not lenient:
            raise where.error(f"{what} {name!r} is listed twice", fix="list each once")
        if known_list is not None and name not in known_list:
            raise where.error(f"unknown {what} {name!r}", fix=f"use one of {known_list}")
        seen.append(name)
    return tuple(seen)


def expect_pair(value: Any, where: Where, *, what: str = "[x, y]") -> tuple[int, int]:
    """Two positive integers written as a list."""
    if not isinstance(value, list) or len(value) != 2:
        raise where.error(f"expected a list of two positive integers {what}, got "
                          f"{describe(value)}" + (f" of length {len(value)}"
                                                  if isinstance(value, list) else ""),
                          fix=f"write {what}, e.g. [1, 1]")
    a = expect_int(value[0], where.at(0))
    b = expect_int(value[1], where.at(1))
    return a, b
