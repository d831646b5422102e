"""Timeloop's ``cluster_size`` on a buffer: how width, word bits, block size and cluster
size of one storage component fit together (docs/timeloop.md, "Clustered buffers").

``cluster_size: k`` says that ``k`` instances share one physical array ``width`` bits
wide: each instance's vector access is ``width / k`` bits, so the block size is
``width / k / word_bits`` words. When block size and cluster size are both given they must
multiply with the word bits to the width; when only the block size is given the cluster
size follows from the width.
"""

from __future__ import annotations

from typing import Any

from ..strict import Where, expect_int


def block_and_cluster(attrs: dict, at: Where, word_bits: int, block: int | None,
                      width_item: tuple[str, Any] | None) -> tuple[int, int]:
    """(block size in words, cluster size) of one Timeloop storage component."""
    def integer(value: Any, where: Where, minimum: int) -> int:
        return expect_int(value, where, minimum=minimum, lenient=True)
    cluster = None
    if attrs.get("cluster_size") is not None:
        cluster = integer(attrs["cluster_size"], at.at("cluster_size"), minimum=1)
    if width_item is None:
        return block or 1, cluster or 1
    key, raw = width_item
    width = integer(raw, at.at(key), minimum=1)
    if block is not None and cluster is not None:
        if block * word_bits * cluster != width:
            raise at.at(key).error(
                f"width {width} != block_size {block} x datawidth {word_bits} x cluster_size "
                f"{cluster}", fix="make width = block_size x datawidth x cluster_size")
        return block, cluster
    if cluster is not None:
        if width % (cluster * word_bits):
            raise at.at(key).error(
                f"width {width} is not a multiple of cluster_size {cluster} x datawidth "
                f"{word_bits}", fix="make width = block_size x datawidth x cluster_size")
        return width // cluster // word_bits, cluster
    per = word_bits * (block or 1)
    if width % per:
        raise at.at(key).error(f"width {width} is not a multiple of datawidth x block_size = "
                               f"{per}", fix="make width = datawidth x block_size")
    if block is None:
        return width // word_bits, 1
    return block, width // per
