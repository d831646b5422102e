"""Eyexam: a mapping's performance explained as seven tightening upper bounds on MACs
per cycle (after Sze, Chen, Yang and Emer, *Efficient Processing of Deep Neural
Networks*, section 6.5, and "How to Evaluate Deep Neural Network Processors", IEEE
Solid-State Circuits Magazine, 2020). docs/eyexam.md states the definitions:

1. layer size and shape: every MAC in one cycle (bound = MACs);
2. dataflow: the largest spatial product the constraints allow, fanout sizes ignored;
3. number of PEs: the same, the product at most the number of PEs (one flat pool);
4. array dimensions: each fanout level's X and Y extents respected separately;
5. storage capacity: the largest spatial product of a legal mapping (tiles fit);
6. average bandwidth: the given mapping's roofline over each level's total traffic;
7. instantaneous bandwidth: the cost model's cycles (read and write ports separately).

Steps 2 to 5 depend on the layer, the architecture and the constraints only; steps 6
and 7 on the given mapping. Each bound is at most the previous one by construction.

The package: :mod:`.report` (the report as data), :mod:`.splits` (a dimension's
tiling slots and spatial choices), :mod:`.fit` (the capacity test), :mod:`.spatial`
(steps 2 to 5) and :mod:`.exam` (``eyexam()``: every step and its cause).
"""

from .exam import eyexam
from .report import STEP_NAMES, EyexamReport, EyexamStep
from .spatial import SpatialBounds, spatial_bounds

__all__ = ["EyexamReport", "EyexamStep", "STEP_NAMES", "SpatialBounds", "eyexam",
           "spatial_bounds"]
