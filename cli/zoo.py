"""``loopscape zoo``: list the built-in networks, or one network's layers."""

from __future__ import annotations

import json

import click
from rich.table import Table

from loopscape.spaces.workloads.zoo import network, network_info, networks, total_macs, unique_shapes
from loopscape.spaces.workload import Workload

from loopscape.spaces.errors import SpecError

from .console import console, wide_when_piped
from .network_options import network_options, pop_network_options


def _dims(w: Workload) -> str:
    return " ".join(f"{d}{b}" for d, b in zip(w.dims, w.bounds))


@click.command()
@click.argument("name", required=False, metavar="[NETWORK]")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@network_options
def zoo(name: str | None, as_json: bool, **kwargs) -> None:
    """List the zoo's networks (layers, unique shapes, G MACs, source), or with NETWORK
    every layer of it in network order (name, type, dimensions, MACs). Decoder LLMs take
    --phase, --seq, --context, --batch, --blocks, --expert-tokens. See docs/zoo.md."""
    wide_when_piped()
    options = pop_network_options(kwargs)
    if name is None and options:
        raise SpecError(f"--{next(iter(options)).replace('_', '-')} needs a NETWORK",
                        key="NETWORK", fix="e.g. loopscape zoo llama3_8b --phase decode")
    if name is None:
        rows = []
        for n in networks():
            info, layers = network_info(n), network(n)
            rows.append({"name": n, "layers": len(layers),
                         "unique_shapes": len(unique_shapes(layers)),
                         "macs": total_macs(layers), "description": info.description,
                         "source": layers[0].source})
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        table = Table(title="loopscape zoo")
        for col, kw in (("name", {"style": "bold", "no_wrap": True}),
                        ("layers", {"justify": "right"}), ("unique", {"justify": "right"}),
                        ("GMACs", {"justify": "right"}), ("source", {})):
            table.add_column(col, **kw)
        for r in rows:
            table.add_row(r["name"], str(r["layers"]), str(r["unique_shapes"]),
                          f"{r['macs'] / 1e9:.3f}", r["source"])
        console.print(table)
        return
    info, layers = network_info(name), network(name, **options)
    if as_json:
        click.echo(json.dumps({
            "network": info.name, "options": options, "source": layers[0].source,
            "macs": total_macs(layers),
            "unique_shapes": len(unique_shapes(layers)),
            "layers": [{"name": x.name, "type": x.workload.kind, "dims": x.workload.shape,
                        "params": dict(x.workload.params), "macs": x.workload.macs}
                       for x in layers]}, indent=2))
        return
    table = Table(title=f"{info.name}: {len(layers)} layers, "
                        f"{len(unique_shapes(layers))} unique shapes, "
                        f"{total_macs(layers) / 1e9:.3f} G MACs",
                  caption=f"source: {layers[0].source}")
    table.add_column("#", justify="right")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("dims")
    table.add_column("MACs", justify="right")
    for i, x in enumerate(layers):
        w = x.workload
        extra = {k: v for k, v in w.params if k in ("Wstride", "Hstride") and v != 1}
        dims = _dims(w) + (f" [dim]stride {extra.get('Hstride', 1)}x{extra.get('Wstride', 1)}[/]"
                           if extra else "")
        table.add_row(str(i), x.name, w.kind, dims, f"{w.macs:,}")
    console.print(table)
