"""The workload zoo: MAC totals against published figures, layer counts, hand-checked shapes."""

import pytest

from loopscape.spaces.workloads.zoo import (ZooLayer, network, network_info, networks, total_macs,
                                  unique_shapes)
from loopscape.spaces.errors import SpecError

# Published multiply-accumulate totals (batch 1, 224x224): torchvision's model docs list
# GFLOPS that are really G multiply-adds: resnet50 4.09, vgg16 15.47, resnet18 1.81,
# alexnet 0.71, mobilenet_v2 0.30 (Sandler et al. Table 3: 300 M multiply-adds).
PUBLISHED = {
    "resnet50": 4.09e9,
    "vgg16": 15.47e9,
    "resnet18": 1.81e9,
    "alexnet": 0.714e9,
    "mobilenet_v2": 0.300e9,
}
TOLERANCE = 0.01  # 1 %: published figures are rounded to 2-3 digits


def test_networks_listed():
    assert networks() == ["alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2",
                          "bert_base", "llama3_8b", "gpt2", "mixtral_8x7b"]
    for name in networks():
        layers = network(name)
        assert layers and all(isinstance(layer, ZooLayer) for layer in layers)
        assert all(layer.source for layer in layers)
        assert len({layer.name for layer in layers}) == len(layers)  # unique names


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_mac_totals_match_published(name):
    assert total_macs(network(name)) == pytest.approx(PUBLISHED[name], rel=TOLERANCE)


def test_resnet50_exact_total():
    # The figure Timeloop's ResNet-50 sweep reports (issue 6): 4.089 G MACs.
    assert total_macs(network("resnet50")) == 4_089_184_256


def test_bert_base_total_from_formula():
    L, S, H, A, F = 12, 512, 768, 12, 3072
    d = H // A
    per_layer = 4 * S * H * H + 2 * A * S * S * d + 2 * S * H * F
    assert total_macs(network("bert_base")) == L * per_layer


def _kinds(layers):
    convs = [x for x in layers if x.workload.kind in ("conv2d", "grouped_conv2d", "depthwise")]
    fcs = [x for x in layers if x.workload.kind == "fully_connected"]
    return convs, fcs


@pytest.mark.parametrize("name, n_conv, n_fc", [
    ("resnet50", 53, 1), ("vgg16", 13, 3), ("resnet18", 20, 1), ("alexnet", 5, 3),
    ("mobilenet_v2", 52, 1),
])
def test_layer_counts(name, n_conv, n_fc):
    layers = network(name)
    convs, fcs = _kinds(layers)
    assert (len(convs), len(fcs), len(layers)) == (n_conv, n_fc, n_conv + n_fc)


def test_bert_layer_sequence():
    layers = network("bert_base")
    assert len(layers) == 12 * 8
    first = [x.name.removeprefix("encoder.layer.0.") for x in layers[:8]]
    assert first == ["attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.self.scores", "attention.self.context",
                     "attention.output.dense", "intermediate.dense", "output.dense"]
    shapes = [x.workload.shape for x in layers[:8]]
    assert shapes[0] == {"M": 512, "N": 768, "K": 768}
    assert shapes[3] == {"B": 12, "M": 512, "N": 512, "K": 64}
    assert shapes[4] == {"B": 12, "M": 512, "N": 64, "K": 512}
    assert shapes[6] == {"M": 512, "N": 3072, "K": 768}
    assert shapes[7] == {"M": 512, "N": 768, "K": 3072}
    assert len(unique_shapes(layers)) == 5  # Q=K=V=out, scores, context, up, down


def _by_name(net):
    return {x.name: x.workload for x in network(net)}


def test_resnet50_shapes_by_hand():
    w = _by_name("resnet50")
    conv1 = w["conv1"]
    assert conv1.shape == {"N": 1, "C": 3, "M": 64, "P": 112, "Q": 112, "R": 7, "S": 7}
    assert dict(conv1.params)["Wstride"] == 2 and dict(conv1.params)["Hstride"] == 2
    assert w["layer1.0.conv2"].shape == {"N": 1, "C": 64, "M": 64, "P": 56, "Q": 56,
                                         "R": 3, "S": 3}
    # v1.5: the stride-2 sits on the 3x3 of the first block of a stage.
    l2 = w["layer2.0.conv2"]
    assert (l2.bound("C"), l2.bound("M"), l2.bound("P"), dict(l2.params)["Wstride"]) == \
        (128, 128, 28, 2)
    assert w["layer2.0.conv1"].bound("P") == 56
    ds = w["layer3.0.downsample.0"]
    assert ds.shape == {"N": 1, "C": 512, "M": 1024, "P": 14, "Q": 14, "R": 1, "S": 1}
    assert w["fc"].shape == {"N": 1, "C": 2048, "M": 1000}
    # Duplicates are kept: every block of a stage is present.
    assert {"layer3.0.conv2", "layer3.5.conv2"} <= set(w)
    assert w["layer3.1.conv2"] != w["layer3.2.conv2"]  # names differ ...
    assert len(unique_shapes(network("resnet50"))) == 24  # ... shapes do not


def test_other_shapes_by_hand():
    a = _by_name("alexnet")
    assert a["features.0"].shape == {"N": 1, "C": 3, "M": 64, "P": 55, "Q": 55, "R": 11,
                                     "S": 11}
    assert a["classifier.1"].shape == {"N": 1, "C": 9216, "M": 4096}
    v = _by_name("vgg16")
    assert v["features.28"].shape == {"N": 1, "C": 512, "M": 512, "P": 14, "Q": 14, "R": 3,
                                      "S": 3}
    assert v["classifier.0"].shape == {"N": 1, "C": 25088, "M": 4096}
    m = _by_name("mobilenet_v2")
    dw = m["features.2.conv.1.0"]  # first stride-2 depthwise: 96 channels, 112 -> 56
    assert dw.kind == "depthwise"
    assert dw.shape == {"N": 1, "C": 96, "P": 56, "Q": 56, "R": 3, "S": 3}
    assert m["features.1.conv.0.0"].shape["C"] == 32  # t = 1 block: no expansion
    assert m["features.18.0"].shape == {"N": 1, "C": 320, "M": 1280, "P": 7, "Q": 7, "R": 1,
                                        "S": 1}


def test_unique_shapes_groups_in_order():
    layers = network("resnet50")
    groups = unique_shapes(layers)
    assert sum(len(names) for _, names in groups) == len(layers)
    assert groups[0][1] == ["conv1"]
    w, names = next(g for g in groups if "layer1.0.conv2" in g[1])
    assert names == ["layer1.0.conv2", "layer1.1.conv2", "layer1.2.conv2"]
    assert w.name == "resnet50.layer1.0.conv2"  # the first instance's workload


def test_unknown_network_and_aliases():
    assert network_info("ResNet-50").name == "resnet50"
    assert network_info("MobileNet-V2").name == "mobilenet_v2"
    with pytest.raises(SpecError, match="resnet50"):
        network("resnet152")


def test_cli_zoo_json():
    import json

    from click.testing import CliRunner

    from loopscape.cli.zoo import zoo
    out = CliRunner().invoke(zoo, ["--json"])
    assert out.exit_code == 0, out.output
    rows = {r["name"]: r for r in json.loads(out.output)}
    assert rows["resnet50"]["layers"] == 54 and rows["resnet50"]["unique_shapes"] == 24
    assert rows["resnet50"]["macs"] == 4_089_184_256 and rows["vgg16"]["source"]
    out = CliRunner().invoke(zoo, ["ResNet-50", "--json"])
    data = json.loads(out.output)
    assert data["layers"][0]["dims"] == {"N": 1, "C": 3, "M": 64, "P": 112, "Q": 112,
                                         "R": 7, "S": 7}
    assert len(data["layers"]) == 54
    text = CliRunner().invoke(zoo, ["resnet50"]).output
    assert "layer1.0.conv2" in text and "24 unique shapes" in text
