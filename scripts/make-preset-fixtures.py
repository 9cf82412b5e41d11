#!/usr/bin/env python3
"""Writes the reduced-width preset fixtures for Cohort's logit-equality tests (issue 13, point 3;
contract: the preset definitions shared with the Swift presets, see `scripts/preset_models.py`).

Usage (the peer venv has torch 2.13.0+cpu; torchvision and timm are optional; checked with
torchvision 0.28.0 and timm 1.0.31, installed with
`pip install -c <(printf 'torch==2.13.0+cpu\n') "torchvision==0.28.*" timm`):

  ~/.cache/cohort-peer-venv/bin/python scripts/make-preset-fixtures.py [--out DIR] [--no-crosscheck]

  --out DIR         default Tests/CohortCheckpointTests/Fixtures/presets
  --no-crosscheck   skip the comparison against torchvision / timm (they are skipped anyway,
                    with a message, when not importable)

Writes into DIR (committed; < 1 MB in total; re-running gives identical bytes on the same
machine/torch build):

  <case>.safetensors     the PyTorch state_dict, float32, including every BatchNorm's
                         `num_batches_tracked` (int64, shape []) so the importer's ignore path runs
  <case>.io.safetensors  `input` float32 [2, 3, 32, 32] (NCHW) and `logits` float32 [2, 3]: eval-mode
                         logits, computed in float64 from the stored float32 weights and input
                         and rounded once (so the reference carries no float32 accumulation noise)
  attention-timm.safetensors   one multi-head self-attention layer, D=8, heads=2, timm layout:
                               qkv.weight [24, 8], qkv.bias [24], proj.weight [8, 8], proj.bias [8]
  attention-torch.safetensors  the same weights in nn.MultiheadAttention layout: in_proj_weight,
                               in_proj_bias, out_proj.weight, out_proj.bias
  attention.io.safetensors     `input` float32 [2, 5, 8], `output` float32 [2, 5, 8]
  presets.json           {"cases": [{case, preset, options, inputShape [32,32,3], classes 3,
                         weights, io}], "ops": [...], "comparison": ...}

Cases (input 32x32x3, 3 classes, batch 2): resnet18 width 3; resnet50 width 2; densenet121 growth 2;
mobilenet_v2 widthMultiplier 0.1 lastChannel 32; vit-tiny patchSize 8 embedDim 16 depth 2 heads 2;
vit-tiny-torch-attn the same with attentionLayout torch (its own random weights).
Two knobs differ from the first plan (resnet18 width 4, mobilenet_v2 widthMultiplier 0.25),
which came to 1.4 MB: mobilenet at 0.25 alone was 605 kB. widthMultiplier 0.1 also exercises
make_divisible's "+8 when rounding lost more than 10%" branch (96 * 0.1 = 9.6 -> 16); width 3
gives odd channel counts. presets.json carries the knobs, so tests should read them from there.

Initialisation (preset_models.randomize, fixed seeds): BatchNorm weight U(0.5,1.5), bias
N(0,0.1), running statistics = the true statistics of a calibration batch perturbed (mean +
N(0,0.1)*std, var * U(0.5,1.5)); LayerNorm weight U(0.5,1.5), bias N(0,0.1); ViT cls_token /
pos_embed N(0,0.5); ViT linears N(0,1/fan_in) so attention is far from uniform. The script
checks the logits' magnitude (max |logit| in [0.3, 30], the two samples' logits differing by
at least 5% of it) and prints, for deliberate mistakes
(wrong GELU, attention scale, token order, concat order, ReLU for ReLU6, norm eps, pooling),
how far the logits move relative to the 1e-4 tolerance. At these sizes LayerNorm eps 1e-5
instead of 1e-6 moves them only ~2e-5 (not caught) and the tanh GELU 1.6e-4 to 7e-4 (barely);
PyTorch's own float32 logits differ from the float64 reference by up to ~1.2e-5 (resnet50).

Cross-checks when torchvision / timm import: at full default size (224x224x3, 1000 classes)
the state_dict keys and shapes equal torchvision.models.resnet18 / resnet50 / densenet121 /
mobilenet_v2 and timm VisionTransformer(img_size=224, patch_size=16, embed_dim=192, depth=12,
num_heads=3), and with the same weights loaded (strict) the float64 logits agree; and each
committed case's weights, loaded into the torchvision / timm module built with the reduced knobs
(ResNet / MobileNetV2 rebuilt from torchvision's own blocks, as torchvision has no width /
last-channel knob; the torch-attention case through renamed weights in timm), give the
committed logits. The torchvision wheel on PyPI is linked against CUDA torch, so its C extension does not load with
torch+cpu; the script stubs `torchvision._meta_registrations` (fake kernels for detection ops,
unused here) so the pure-Python model code imports.
"""
import argparse
import json
import os
import sys
import types

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import preset_models as pm  # noqa: E402

TOLERANCE = 1e-4
CASES = [
    ("resnet18", "resnet18", {"width": 3}),
    ("resnet50", "resnet50", {"width": 2}),
    ("densenet121", "densenet121", {"growth": 2}),
    ("mobilenet_v2", "mobilenet_v2", {"widthMultiplier": 0.1, "lastChannel": 32}),
    ("vit-tiny", "vit-tiny", {"patchSize": 8, "embedDim": 16, "depth": 2, "heads": 2}),
    ("vit-tiny-torch-attn", "vit-tiny", {"patchSize": 8, "embedDim": 16, "depth": 2, "heads": 2, "attentionLayout": "torch"}),
]
INPUT_SHAPE = [32, 32, 3]
CLASSES = 3
META = {"source": "scripts/make-preset-fixtures.py"}
SENSITIVITY = {
    "resnet18": ["bn_eps_1e-3"],
    "resnet50": ["bn_eps_1e-3"],
    "densenet121": ["concat_reversed", "bn_eps_1e-3"],
    "mobilenet_v2": ["relu_for_relu6", "bn_eps_1e-3"],
    "vit-tiny": ["gelu_tanh", "attn_scale_dim", "patch_col_major", "ln_eps_1e-5", "mean_pool"],
    "vit-tiny-torch-attn": ["gelu_tanh", "patch_col_major", "ln_eps_1e-5", "mean_pool"],
}


def rel(a, ref):
    return float((a.double() - ref.double()).abs().max() / ref.double().abs().max())


def logits64(model, x):
    """Eval-mode logits in float64 from the float32 weights (exact widening)."""
    m = model.double().eval()
    with torch.no_grad():
        out = m(x.double())
    model.float()
    return out


def logits32(model, x):
    with torch.no_grad():
        return model.float().eval()(x.float())


def write(path, tensors):
    save_file(tensors, path, metadata=META)
    return os.path.getsize(path)


# ---------------------------------------------------------------- torchvision / timm cross-checks
def import_references():
    try:
        if "torchvision._meta_registrations" not in sys.modules:
            sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
        import torchvision  # noqa: F401
        import torchvision.models as tvm
    except Exception as e:  # noqa: BLE001 - report and go on without the cross-check
        print(f"torchvision not importable ({type(e).__name__}: {e}); its cross-checks skipped")
        tvm = None
    try:
        from timm.models.vision_transformer import VisionTransformer
    except Exception as e:  # noqa: BLE001
        print(f"timm not importable ({type(e).__name__}: {e}); its cross-checks skipped")
        VisionTransformer = None
    return tvm, VisionTransformer


def same_layout(mine, ref):
    a = {k: tuple(v.shape) for k, v in mine.state_dict().items()}
    b = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    if a != b:
        only_a = sorted(set(a) - set(b))[:5]
        only_b = sorted(set(b) - set(a))[:5]
        diff = sorted(k for k in set(a) & set(b) if a[k] != b[k])[:5]
        raise AssertionError(f"state_dict differs: only mine {only_a}, only reference {only_b}, shapes {diff}")
    return len(a), list(a) == list(b)


def crosscheck(label, mine, ref, x, results):
    n, ordered = same_layout(mine, ref)
    ref.load_state_dict(mine.state_dict(), strict=True)
    d = rel(logits64(mine, x), logits64(ref, x))
    ok = d < 1e-10
    results.append({"check": label, "tensors": n, "sameOrder": ordered, "float64LogitsRelDiff": d, "ok": ok})
    print(f"  {label}: {n} tensors equal names+shapes (same order: {ordered}); float64 logits rel diff {d:.2e} {'OK' if ok else 'FAIL'}")
    if not ok:
        raise AssertionError(f"{label}: logits differ from the reference by {d}")


def tv_resnet(tvm, block, counts, width, classes):
    """torchvision's ResNet rebuilt with `width` planes in the first stage (torchvision has no knob)."""
    m = tvm.resnet.ResNet(block, counts, num_classes=classes)
    m.inplanes = width
    m.conv1 = torch.nn.Conv2d(3, width, 7, 2, 3, bias=False)
    m.bn1 = torch.nn.BatchNorm2d(width)
    m.layer1 = m._make_layer(block, width, counts[0])
    m.layer2 = m._make_layer(block, width * 2, counts[1], stride=2)
    m.layer3 = m._make_layer(block, width * 4, counts[2], stride=2)
    m.layer4 = m._make_layer(block, width * 8, counts[3], stride=2)
    m.fc = torch.nn.Linear(width * 8 * block.expansion, classes)
    return m


def tv_mobilenet(tvm, wm, last_channel, classes):
    m = tvm.MobileNetV2(num_classes=classes, width_mult=wm)
    cin = m.features[-1][0].in_channels
    m.features[-1] = tvm.mobilenetv2.Conv2dNormActivation(cin, last_channel, kernel_size=1, norm_layer=torch.nn.BatchNorm2d, activation_layer=torch.nn.ReLU6)
    m.classifier[1] = torch.nn.Linear(last_channel, classes)
    return m


def reference(tvm, VisionTransformer, preset, options, classes, input_shape):
    """The torchvision / timm module for a preset and knobs, or None when not importable."""
    o = options
    if preset in ("resnet18", "resnet50") and tvm:
        block, counts = (tvm.resnet.BasicBlock, [2, 2, 2, 2]) if preset == "resnet18" else (tvm.resnet.Bottleneck, [3, 4, 6, 3])
        w = o.get("width", 64)
        return getattr(tvm, preset)(num_classes=classes) if w == 64 else tv_resnet(tvm, block, counts, w, classes)
    if preset == "densenet121" and tvm:
        g = o.get("growth", 32)
        return tvm.DenseNet(growth_rate=g, block_config=(6, 12, 24, 16), num_init_features=2 * g, bn_size=4, num_classes=classes)
    if preset == "mobilenet_v2" and tvm:
        wm = o.get("widthMultiplier", 1.0)
        default_last = pm.make_divisible(1280 * max(1.0, wm))
        lc = o.get("lastChannel", default_last)
        return tvm.MobileNetV2(num_classes=classes, width_mult=wm) if lc == default_last else tv_mobilenet(tvm, wm, lc, classes)
    if preset == "vit-tiny" and VisionTransformer:
        return VisionTransformer(img_size=input_shape[0], patch_size=o.get("patchSize", 16), in_chans=input_shape[2],
                                 num_classes=classes, embed_dim=o.get("embedDim", 192), depth=o.get("depth", 12),
                                 num_heads=o.get("heads", 3), mlp_ratio=o.get("mlpRatio", 4))
    return None


def run_crosschecks(tvm, VisionTransformer):
    results = []
    print("cross-checks against torchvision / timm:")
    full = [("resnet18", {}), ("resnet50", {}), ("densenet121", {}), ("mobilenet_v2", {}), ("vit-tiny", {})]
    x224 = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(7))
    for preset, opts in full:
        ref = reference(tvm, VisionTransformer, preset, opts, 1000, [224, 224, 3])
        if ref is None:
            print(f"  {preset} full size: reference library missing, skipped")
            continue
        mine = pm.randomize(pm.build(preset, opts, 1000, [224, 224, 3]), 99, [224, 224, 3])
        crosscheck(f"{preset} full size (224x224x3, 1000 classes) vs {type(ref).__module__}", mine, ref, x224, results)
        if preset == "vit-tiny":
            torch_layout = pm.build(preset, {"attentionLayout": "torch"}, 1000, [224, 224, 3])
            torch_layout.load_state_dict(pm.timm_to_torch_attention(mine.state_dict()), strict=True)
            d = rel(logits64(torch_layout, x224), logits64(ref, x224))
            ok = d < 1e-10
            results.append({"check": "vit-tiny full size, nn.MultiheadAttention layout with renamed timm weights vs timm", "float64LogitsRelDiff": d, "ok": ok})
            print(f"  vit-tiny full size torch attention layout (renamed weights) vs timm: float64 logits rel diff {d:.2e} {'OK' if ok else 'FAIL'}")
            if not ok:
                raise AssertionError("torch attention layout differs from timm")
    return results


# ---------------------------------------------------------------- fixtures
def make_case(index, case, preset, options, out, refs):
    torch.manual_seed(0)
    model = pm.randomize(pm.build(preset, options, CLASSES, INPUT_SHAPE), 1000 + index, INPUT_SHAPE)
    model.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2000 + index))
    ref = logits64(model, x)
    y = ref.float().contiguous()
    f32_noise = rel(logits32(model, x), ref)

    absmax = float(y.abs().max())
    std = float(y.std())
    spread = float((y[0] - y[1]).abs().max())
    if not (0.3 <= absmax <= 30 and std > 0.1 and spread > 0.05 * absmax):
        raise AssertionError(f"{case}: logits of an unhelpful magnitude: max|y| {absmax}, std {std}, sample spread {spread}")

    if options.get("attentionLayout") == "torch":
        # Same math as timm's layout: the renamed weights in a timm-layout model give the same logits.
        timm_layout = pm.build(preset, {k: v for k, v in options.items() if k != "attentionLayout"}, CLASSES, INPUT_SHAPE)
        timm_layout.load_state_dict(pm.torch_to_timm_attention(model.state_dict()), strict=True)
        d = rel(logits64(timm_layout, x), ref)
        if d > 1e-10:
            raise AssertionError(f"{case}: timm layout with the same weights differs by {d}")

    if refs is not None:
        # The committed weights in the torchvision / timm module give the committed logits.
        timm_options = {k: v for k, v in options.items() if k != "attentionLayout"}
        ref_model = reference(*refs, preset, timm_options, CLASSES, INPUT_SHAPE)
        if ref_model is None:
            print(f"  {case}: reference library missing, cross-check skipped")
        else:
            state = model.state_dict() if options.get("attentionLayout") != "torch" else pm.torch_to_timm_attention(model.state_dict())
            same_layout(model if options.get("attentionLayout") != "torch" else timm_layout, ref_model)
            ref_model.load_state_dict(state, strict=True)
            d = rel(logits64(ref_model, x), ref)
            print(f"  {case}: these weights in {type(ref_model).__module__}.{type(ref_model).__name__} {timm_options}: "
                  f"same names+shapes, float64 logits rel diff {d:.1e} {'OK' if d < 1e-10 else 'FAIL'}")
            if d > 1e-10:
                raise AssertionError(f"{case}: logits differ from the reference library's by {d}")

    sens = {}
    for mut in SENSITIVITY[case]:
        pm.MUTATIONS[mut] = True
        try:
            sens[mut] = rel(logits64(model, x), ref)
        finally:
            pm.MUTATIONS[mut] = False

    state = pm.state_dict(model)
    nbt = sum(1 for k in state if k.endswith("num_batches_tracked"))
    params = sum(v.numel() for k, v in state.items() if v.dtype == torch.float32)
    size_w = write(os.path.join(out, f"{case}.safetensors"), state)
    size_io = write(os.path.join(out, f"{case}.io.safetensors"), {"input": x.contiguous(), "logits": y})
    print(f"{case}: {len(state)} tensors ({nbt} num_batches_tracked), {params} floats; "
          f"{case}.safetensors {size_w} B, {case}.io.safetensors {size_io} B")
    print(f"  logits {y.tolist()}")
    print(f"  max|logit| {absmax:.3f}, std {std:.3f}, max sample difference {spread:.3f}; "
          f"PyTorch float32 vs float64 rel {f32_noise:.1e}")
    print("  sensitivity (rel change of logits; tolerance 1e-4): "
          + ", ".join(f"{k} {v:.1e}{'' if v > TOLERANCE else ' (NOT caught)'}" for k, v in sens.items()))
    entry = {"case": case, "preset": preset, "options": options, "inputShape": INPUT_SHAPE, "classes": CLASSES,
             "weights": f"{case}.safetensors", "io": f"{case}.io.safetensors"}
    stats = {"case": case, "maxAbsLogit": absmax, "logitStd": std, "float32NoiseRel": f32_noise, "sensitivity": sens,
             "sizes": size_w + size_io}
    return entry, stats


def make_attention(out):
    d, heads, tokens = 8, 2, 5
    attn = pm.TimmAttention(d, heads)
    g = torch.Generator().manual_seed(3000)
    with torch.no_grad():
        attn.qkv.weight.copy_(torch.randn(3 * d, d, generator=g) / d ** 0.5)
        attn.qkv.bias.copy_(torch.randn(3 * d, generator=g) * 0.1)
        attn.proj.weight.copy_(torch.randn(d, d, generator=g) / d ** 0.5)
        attn.proj.bias.copy_(torch.randn(d, generator=g) * 0.1)
    x = torch.randn(2, tokens, d, generator=g)
    with torch.no_grad():
        y = attn.double()(x.double())
        attn.float()
        mha = pm.TorchAttention(d, heads).double().eval()
        mha.in_proj_weight.copy_(attn.qkv.weight)
        mha.in_proj_bias.copy_(attn.qkv.bias)
        mha.out_proj.weight.copy_(attn.proj.weight)
        mha.out_proj.bias.copy_(attn.proj.bias)
        d_mha = rel(mha(x.double()), y)
        # Independent formulation: torch's fused scaled dot-product attention.
        qkv = torch.nn.functional.linear(x.double(), attn.qkv.weight.double(), attn.qkv.bias.double())
        q, k, v = qkv.reshape(2, tokens, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        o = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(2, tokens, d)
        d_sdpa = rel(torch.nn.functional.linear(o, attn.proj.weight.double(), attn.proj.bias.double()), y)
        scores = (q @ k.transpose(-2, -1)) * (d // heads) ** -0.5
        pmax = float(torch.softmax(scores, -1).max())
    if d_mha > 1e-10 or d_sdpa > 1e-10:
        raise AssertionError(f"attention fixture: nn.MultiheadAttention {d_mha}, SDPA {d_sdpa}")
    w = {k: v.detach().clone().contiguous() for k, v in attn.state_dict().items()}
    s1 = write(os.path.join(out, "attention-timm.safetensors"), w)
    s2 = write(os.path.join(out, "attention-torch.safetensors"), {
        "in_proj_weight": w["qkv.weight"], "in_proj_bias": w["qkv.bias"],
        "out_proj.weight": w["proj.weight"], "out_proj.bias": w["proj.bias"]})
    s3 = write(os.path.join(out, "attention.io.safetensors"), {"input": x.contiguous(), "output": y.float().contiguous()})
    print(f"attention op: attention-timm.safetensors {s1} B, attention-torch.safetensors {s2} B, attention.io.safetensors {s3} B; "
          f"max|output| {float(y.abs().max()):.3f}; largest softmax weight {pmax:.2f}; "
          f"nn.MultiheadAttention rel {d_mha:.1e}, SDPA rel {d_sdpa:.1e}")
    entry = {
        "op": "multi-head self-attention", "dim": d, "heads": heads, "tokens": tokens, "batch": 2,
        "weights": {"timm": "attention-timm.safetensors", "torch": "attention-torch.safetensors"},
        "tensors": {"timm": ["qkv.weight [24, 8]", "qkv.bias [24]", "proj.weight [8, 8]", "proj.bias [8]"],
                    "torch": ["in_proj_weight [24, 8]", "in_proj_bias [24]", "out_proj.weight [8, 8]", "out_proj.bias [8]"]},
        "io": "attention.io.safetensors",
        "description": "y = proj(concat_h softmax(q_h k_h^T * (D/heads)^-0.5) v_h); qkv rows [q; k; v], head h uses rows "
                       "h*hd..<(h+1)*hd of each; both weight files hold the same numbers; io holds `input` float32 "
                       "[2, 5, 8] and `output` float32 [2, 5, 8] (computed in float64, rounded once)",
    }
    return entry, s1 + s2 + s3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CohortCheckpointTests", "Fixtures", "presets"))
    ap.add_argument("--no-crosscheck", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)  # same reduction order on every run
    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)

    refs = None
    if not args.no_crosscheck:
        refs = import_references()
        run_crosschecks(*refs)

    cases, total = [], 0
    for i, (case, preset, options) in enumerate(CASES):
        entry, stats = make_case(i, case, preset, options, out, refs)
        cases.append(entry)
        total += stats["sizes"]
    op, size = make_attention(out)
    total += size
    doc = {
        "cases": cases,
        "ops": [op],
        "comparison": "Cohort's logits must match `logits` within 1e-4 relative: max|cohort - torch| / max|torch| "
                      "over the [2, classes] array. Inputs are NCHW; Cohort transposes them to NHWC.",
        "generator": "scripts/make-preset-fixtures.py",
    }
    path = os.path.join(out, "presets.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    total += os.path.getsize(path)
    print(f"presets.json {os.path.getsize(path)} B; total {total} B ({total / 1024:.1f} KiB)")
    if total >= 1_000_000:
        raise AssertionError(f"fixtures are {total} bytes, over the 1 MB budget")


if __name__ == "__main__":
    main()
