"""Workload builders, architecture checks and mapping legality, with hand-derived values."""

import pytest

from loopscape.costmodels import evaluate, lower_bounds
from loopscape.spaces import (Architecture, ComputeLevel, LevelMapping, Loop, Mapping,
                              MappingError, SpecError, StorageLevel, batched_matmul, check_mapping,
                              conv2d, depthwise_conv2d, einsum, fully_connected, gemm, tile_words)

T3 = ("Weights", "Inputs", "Outputs")


def test_conv2d_tensor_sizes_follow_the_sliding_window():
    # ResNet-50 conv1: 7x7 stride 2 over a 230x230 (padded) input gives 112x112.
    w = conv2d(C=3, M=64, P=112, Q=112, R=7, S=7, stride=2)
    assert w.macs == 3 * 64 * 112 * 112 * 49
    assert w.tensor_words("Weights") == 64 * 3 * 7 * 7
    assert w.tensor_words("Inputs") == 3 * 229 * 229  # (112-1)*2 + (7-1) + 1 = 229
    assert w.tensor_words("Outputs") == 64 * 112 * 112


def test_dilation_widens_the_input_window():
    w = conv2d(C=1, M=1, P=4, Q=1, R=3, S=1, dilation=2)
    assert w.tensor(("Inputs")).extents({"P": 4, "R": 3}) == (1, 1, 3 + 4 + 1, 1)  # (4-1)+(3-1)*2+1


def test_grouped_conv_splits_channels_per_group():
    w = conv2d(C=32, M=64, P=8, Q=8, R=3, S=3, groups=4)
    assert w.shape["G"] == 4 and w.shape["C"] == 8 and w.shape["M"] == 16
    assert w.macs == 4 * 8 * 16 * 64 * 9  # one quarter of the dense MACs
    assert w.tensor_words("Weights") == 64 * 8 * 9


def test_depthwise_gemm_fc_bmm_mac_counts():
    assert depthwise_conv2d(C=144, P=56, Q=56, R=3, S=3).macs == 144 * 56 * 56 * 9
    assert gemm(M=512, N=3072, K=768).macs == 512 * 3072 * 768
    assert fully_connected(N=2, C=4096, M=1000).macs == 2 * 4096 * 1000
    bmm = batched_matmul(B=12, M=512, N=512, K=64)
    assert bmm.macs == 12 * 512 * 512 * 64
    assert bmm.tensor_words("Weights") == 12 * 64 * 512


def test_einsum_parses_strides_and_sums():
    w = einsum("Out[k,p] += W[c,k,r] * In[c,2*p+r]", {"c": 4, "k": 2, "r": 3, "p": 5})
    assert w.tensor("In").axes == (((1, "c"),), ((2, "p"), (1, "r")))
    assert w.tensor_words("In") == 4 * ((5 - 1) * 2 + 3)
    assert w.tensor("Out").read_write


@pytest.mark.parametrize("bad, text", [
    (lambda: conv2d(C=0, M=1, P=1, Q=1, R=1, S=1), "must be positive"),
    (lambda: einsum("Out[k] += W[k,x]", {"k": 2}), "no bound for dimensions ['x']"),
    (lambda: einsum("Out[k] W[k]", {"k": 2}), "+="),
    (lambda: conv2d(C=3, M=4, P=1, Q=1, R=1, S=1, groups=2), "divisible by groups"),
])
def test_bad_workloads_raise_spec_errors(bad, text):
    with pytest.raises(SpecError) as e:
        bad()
    assert text in str(e.value)


def _arch(rf_words=64, rf_bits=8, tensor_bits=()):
    return Architecture("t", (
        StorageLevel("DRAM", block_size=4, read_energy_pj=100, fill_energy_pj=100,
                      update_energy_pj=100),
        StorageLevel("RF", instances=4, mesh_x=4, capacity_words=rf_words, word_bits=rf_bits,
                     tensor_bits=tensor_bits, read_energy_pj=1, fill_energy_pj=1,
                     update_energy_pj=1, leak_energy_pj=0.01),
    ), ComputeLevel("MAC", 4, 4, 1, 0.5))


def test_mesh_must_divide_level_by_level():
    with pytest.raises(SpecError, match="not a multiple of the mesh"):
        Architecture("bad", (StorageLevel("A", instances=3, mesh_x=3),
                             StorageLevel("B", instances=4, mesh_x=4)), ComputeLevel("M", 4, 4))


def _gemm_mapping(spatial=4, dram=(("M", 2),), rf=(("K", 8), ("N", 4)), keep_rf=T3):
    return Mapping((
        LevelMapping("DRAM", tuple(Loop(d, f) for d, f in dram), spatial_x=(Loop("M", spatial),),
                     keep=T3),
        LevelMapping("RF", tuple(Loop(d, f) for d, f in rf), keep=keep_rf),
    ))


def test_legal_gemm_mapping_and_hand_counts():
    w = gemm(M=8, N=4, K=8)
    m = _gemm_mapping()
    check_mapping(w, _arch(), m)
    # RF tile per instance: M1 N4 K8 -> Weights 32, Inputs 8, Outputs 4 (= 44 words <= 64).
    assert tile_words(w, m, 1, "Weights") == 32
    r = evaluate(w, _arch(), m)
    rf = r.level("RF").tensors
    # Each RF instance computes 2 rows (DRAM M2) x 4 x 8 = 64 MACs.
    assert r.compute_cycles == 64 and r.utilized_pes == 4 and r.cycles == 64
    # Weights do not depend on M: filled once (32), stationary across the DRAM M loop
    # (translation 0 from the first move, so nothing refetched); read once per MAC.
    assert (rf["Weights"].reads, rf["Weights"].fills) == (64, 32)
    # Inputs depend on M: a new 8-word row per DRAM M iteration.
    assert (rf["Inputs"].reads, rf["Inputs"].fills) == (64, 16)
    # Outputs: 8 distinct per instance, each updated K=8 times; first update reads nothing.
    assert (rf["Outputs"].updates, rf["Outputs"].reads, rf["Outputs"].fills) == (64, 56, 0)
    dram = r.level("DRAM").tensors
    # The 4 RF instances share weights (spatial M is irrelevant to Weights: multicast).
    assert dram["Weights"].reads == 32
    assert dram["Inputs"].reads == 16 * 4
    assert dram["Outputs"].updates == 8 * 4 and dram["Outputs"].reads == 0
    assert r.utilization == 1.0


def test_fanout_violation_names_level_and_limit():
    w = gemm(M=16, N=4, K=4)
    m = _gemm_mapping(spatial=8, dram=(), rf=(("M", 2), ("K", 4), ("N", 4)))
    with pytest.raises(MappingError) as e:
        check_mapping(w, _arch(), m)
    assert "DRAM" in str(e.value) and "X fanout is 4" in str(e.value)
    assert e.value.level == "DRAM"


def test_factor_product_must_equal_bound():
    w = gemm(M=8, N=4, K=8)
    m = _gemm_mapping(rf=(("K", 4), ("N", 4)))
    with pytest.raises(MappingError, match="factors of K multiply to 4 but the layer's K is 8"):
        check_mapping(w, _arch(), m)


def test_capacity_is_checked_in_bits_per_tensor():
    w = gemm(M=8, N=4, K=8)
    m = _gemm_mapping()
    # 64 words of 8 bits = 512 bits. Weights 32 + Inputs 8 at 8 bits = 320 bits, Outputs 4.
    # With 24-bit partial sums the outputs need 96 bits: 416 bits, fits.
    check_mapping(w, _arch(tensor_bits=(("Outputs", 24),)), m)
    # With 16-bit weights: 512 + 64 + 96 = 672 bits > 512: names the level and the worst tensor.
    arch = _arch(tensor_bits=(("Outputs", 24), ("Weights", 16)))
    with pytest.raises(MappingError) as e:
        check_mapping(w, arch, m)
    assert e.value.level == "RF" and e.value.tensor == "Weights"
    assert "672 bits" in str(e.value) and "512 bits" in str(e.value)
    # Bypassing the weights at the RF makes it fit again.
    check_mapping(w, arch, _gemm_mapping(keep_rf=("Inputs", "Outputs")))


def test_outermost_level_must_keep_everything():
    w = gemm(M=8, N=4, K=8)
    m = _gemm_mapping()
    bad = Mapping((LevelMapping("DRAM", m.levels[0].temporal, spatial_x=m.levels[0].spatial_x,
                                keep=("Weights", "Inputs")), m.levels[1]))
    with pytest.raises(MappingError, match="outermost level must keep every tensor"):
        check_mapping(w, _arch(), bad)


def test_dummy_level_keeps_nothing():
    arch = Architecture("d", (StorageLevel("DRAM"), StorageLevel("net", dummy=True),
                              StorageLevel("RF", capacity_words=64)), ComputeLevel())
    w = gemm(M=2, N=2, K=2)
    m = Mapping((LevelMapping("DRAM", keep=T3), LevelMapping("net", keep=("Weights",)),
                 LevelMapping("RF", (Loop("M", 2), Loop("N", 2), Loop("K", 2)), keep=T3)))
    with pytest.raises(MappingError, match="dummy level"):
        check_mapping(w, arch, m)


def test_lower_bounds_by_hand():
    w = gemm(M=8, N=4, K=8)
    b = lower_bounds(w, _arch())
    assert b.cycles == 8 * 4 * 8 // 4
    assert b.outermost_words == 32 + 64 + 32
    # MACs x 0.5 pJ + ceil(words / 4-word blocks) x 100 pJ per tensor.
    assert b.energy_pj == pytest.approx(256 * 0.5 + (8 + 16 + 8) * 100)


def test_bandwidth_limit_stretches_cycles():
    w = gemm(M=8, N=4, K=8)
    arch = _arch()
    slow = Architecture("slow", (arch.levels[0].__class__(**{**arch.levels[0].__dict__,
                                                             "read_bandwidth": 0.5}),
                                 arch.levels[1]), arch.compute)
    r = evaluate(w, slow, _gemm_mapping())
    # DRAM reads per instance: weights 32 + inputs 64 = 96 over 64 compute cycles = 1.5
    # words/cycle against 0.5 available: 3x slower.
    assert r.level("DRAM").read_words_per_cycle == pytest.approx(1.5)
    assert r.cycles == 192
    assert r.utilization == pytest.approx(64 / 192)
