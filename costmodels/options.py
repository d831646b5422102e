"""Model options: which Timeloop behaviour the cost models follow.

``ModelOptions`` is passed to ``evaluate``, ``BatchEvaluator``/``evaluate_batch``,
``simulate`` and ``search``; every result records it (``to_dict``). See
docs/semantics.md for what each setting means.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopscape.spaces.errors import SpecError

SEMANTICS = ("timeloop", "timeloop-pre297")
RESIDUAL_CYCLES = ("timeloop", "exact")


@dataclass(frozen=True)
class ModelOptions:
    """``semantics``: ``"timeloop"`` follows current Timeloop (after its PR #297: a step in
    which a tile does not move keeps the remembered translation); ``"timeloop-pre297"``
    the older analysis (such a step resets it, so the next move refetches the whole tile).
    ``link_transfers``: children of a spatial fanout may take data from a mesh neighbour
    over a link (costmodels/links.py), as Timeloop does by default (on); off is
    Timeloop's ``TIMELOOP_DISABLE_LINK_TRANSFERS=1``.
    ``residual_cycles`` (mappings with residual loops only): ``"timeloop"`` counts compute
    cycles as the product of all temporal loop factors (ends) and MACs as the busiest
    PE's MACs times the average number of PEs in use, as Timeloop does; ``"exact"``
    counts the cycles the busiest PE really runs and the layer's true MAC count."""

    semantics: str = "timeloop"
    link_transfers: bool = True
    residual_cycles: str = "timeloop"

    def __post_init__(self) -> None:
        if self.semantics not in SEMANTICS:
            raise SpecError(f"unknown semantics {self.semantics!r}", key="semantics",
                            fix=f"use one of {', '.join(SEMANTICS)}")
        if not isinstance(self.link_transfers, bool):
            raise SpecError(f"link_transfers must be true or false, got {self.link_transfers!r}",
                            key="link_transfers")
        if self.residual_cycles not in RESIDUAL_CYCLES:
            raise SpecError(f"unknown residual_cycles {self.residual_cycles!r}",
                            key="residual_cycles", fix=f"use one of {', '.join(RESIDUAL_CYCLES)}")


    @property
    def keeps_stationary_translation(self) -> bool:
        """True when a non-moving step leaves the refetch rule's remembered translation alone."""
        return self.semantics == "timeloop"

    def to_dict(self) -> dict:
        d = {"semantics": self.semantics, "link_transfers": self.link_transfers}
        if self.residual_cycles != "timeloop":  # recorded when not the default
            d["residual_cycles"] = self.residual_cycles
        return d


DEFAULT_OPTIONS = ModelOptions()


def model_options(options: "ModelOptions | None") -> ModelOptions:
    """``options`` or the default."""
    if options is None:
        return DEFAULT_OPTIONS
    if not isinstance(options, ModelOptions):
        raise SpecError(f"options must be a ModelOptions, got {type(options).__name__}",
                        key="options", fix="e.g. ModelOptions(semantics='timeloop-pre297')")
    return options
