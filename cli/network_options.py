"""The options that shape a zoo network (a decoder LLM's phase, sequence, batch...),
shared by ``loopscape zoo`` and ``loopscape sweep``. See docs/zoo.md."""

from __future__ import annotations

from typing import Callable

import click

from loopscape.spaces.workloads.zoo.llm import PHASES

_OPTIONS = (
    click.option("--phase", type=click.Choice(PHASES), default=None,
                 help="Decoder LLMs: prefill (SEQ tokens) or decode (one token against a "
                      "KV cache of CONTEXT tokens) [default: prefill]."),
    click.option("--seq", type=int, default=None,
                 help="Decoder LLMs: prefill tokens per sequence [default: 2048, at most "
                      "the model's positions]."),
    click.option("--context", type=int, default=None,
                 help="Decoder LLMs: keys each decoded token attends to [default: 4096, at "
                      "most the model's positions]."),
    click.option("--batch", type=int, default=None,
                 help="Decoder LLMs: sequences run together [default: 1]."),
    click.option("--blocks", type=int, default=None,
                 help="Decoder LLMs: decoder blocks [default: the model's]."),
    click.option("--expert-tokens", "expert_tokens", type=int, default=None,
                 help="Mixture of experts: tokens per active expert [default: balanced "
                      "routing, ceil(tokens x top_k / active experts)]."),
    click.option("--lm-head/--no-lm-head", "lm_head", default=None,
                 help="Decoder LLMs: include the LM head layer [default: included]."),
)
NAMES = ("phase", "seq", "context", "batch", "blocks", "expert_tokens", "lm_head")


def network_options(command: Callable) -> Callable:
    """Add the network-shaping options to a click command (keyword arguments ``NAMES``)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def pop_network_options(kwargs: dict) -> dict:
    """Remove the network options from a command's keyword arguments: the ones given."""
    given = {name: kwargs.pop(name) for name in NAMES}
    return {k: v for k, v in given.items() if v is not None}
