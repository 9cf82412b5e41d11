"""PyTorch definitions of Cohort's model presets (the contract the Swift presets implement:
torchvision / timm state_dict names, Cohort's knobs), shared by
scripts/make-preset-fixtures.py and scripts/check-presets-full.py.

Every module's state_dict names and shapes equal torchvision's / timm's at the default knobs
(make-preset-fixtures.py asserts that when torchvision and timm are importable); the knobs
(`width`, `growth`, `widthMultiplier`, `lastChannel`, ViT sizes, `attentionLayout`) let the
committed fixtures stay small. No dependency beyond torch.

`build(preset, options, classes, input_shape)` returns the module; `randomize(model, seed,
input_shape)` gives it a deterministic, eval-mode-non-trivial initialisation.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

# Deliberate deviations, switched on only by make-preset-fixtures.py's sensitivity report to
# show that the 1e-4 comparison would catch a given mistake. All False in normal use.
MUTATIONS = {
    "gelu_tanh": False,          # GELU tanh approximation instead of exact erf
    "attn_scale_dim": False,     # scale by D^-0.5 instead of head_dim^-0.5
    "patch_col_major": False,    # tokens in (w, h) order instead of row-major (h, w)
    "concat_reversed": False,    # densenet concat order [new, input]
    "relu_for_relu6": False,     # mobilenet ReLU instead of ReLU6
    "bn_eps_1e-3": False,        # BatchNorm eps 1e-3 instead of 1e-5
    "ln_eps_1e-5": False,        # LayerNorm eps 1e-5 instead of 1e-6
    "mean_pool": False,          # ViT: mean of tokens instead of the class token
}


class BN(nn.BatchNorm2d):
    def forward(self, x):
        if MUTATIONS["bn_eps_1e-3"] and not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, 1e-3)
        return super().forward(x)


class Relu6(nn.Module):
    def forward(self, x):
        return F.relu(x) if MUTATIONS["relu_for_relu6"] else F.relu6(x)


def conv(cin, cout, k, stride=1, padding=0, groups=1, bias=False):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=padding, groups=groups, bias=bias)


# ---------------------------------------------------------------- ResNet (torchvision v1.5)
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = conv(cin, planes, 3, stride, 1)
        self.bn1 = BN(planes)
        self.conv2 = conv(planes, planes, 3, 1, 1)
        self.bn2 = BN(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(conv(cin, planes, 1, stride), BN(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.downsample is None else self.downsample(x)
        return F.relu(y + s)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride):
        super().__init__()
        out = planes * 4
        self.conv1 = conv(cin, planes, 1)
        self.bn1 = BN(planes)
        self.conv2 = conv(planes, planes, 3, stride, 1)
        self.bn2 = BN(planes)
        self.conv3 = conv(planes, out, 1)
        self.bn3 = BN(out)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(conv(cin, out, 1, stride), BN(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        s = x if self.downsample is None else self.downsample(x)
        return F.relu(y + s)


class ResNet(nn.Module):
    def __init__(self, block, counts, width, classes, channels):
        super().__init__()
        self.conv1 = conv(channels, width, 7, 2, 3)
        self.bn1 = BN(width)
        cin = width
        for i, (n, stride) in enumerate(zip(counts, (1, 2, 2, 2))):
            planes = width * (2 ** i)
            blocks = []
            for j in range(n):
                blocks.append(block(cin, planes, stride if j == 0 else 1))
                cin = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ---------------------------------------------------------------- DenseNet (torchvision)
class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1 = BN(cin)
        self.conv1 = conv(cin, bn_size * growth, 1)
        self.norm2 = BN(bn_size * growth)
        self.conv2 = conv(bn_size * growth, growth, 3, 1, 1)

    def forward(self, x):
        y = self.conv1(F.relu(self.norm1(x)))
        return self.conv2(F.relu(self.norm2(y)))


class DenseBlock(nn.Module):
    def __init__(self, n, cin, growth, bn_size):
        super().__init__()
        for j in range(n):
            self.add_module(f"denselayer{j + 1}", DenseLayer(cin + j * growth, growth, bn_size))

    def forward(self, x):
        for layer in self.children():
            new = layer(x)
            x = torch.cat([new, x] if MUTATIONS["concat_reversed"] else [x, new], 1)
        return x


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm = BN(cin)
        self.conv = conv(cin, cout, 1)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.norm(x))), 2, 2)


class DenseNet(nn.Module):
    def __init__(self, growth, classes, channels, blocks=(6, 12, 24, 16), bn_size=4):
        super().__init__()
        c = 2 * growth
        f = nn.Module()
        f.conv0 = conv(channels, c, 7, 2, 3)
        f.norm0 = BN(c)
        for i, n in enumerate(blocks):
            setattr(f, f"denseblock{i + 1}", DenseBlock(n, c, growth, bn_size))
            c += n * growth
            if i != len(blocks) - 1:
                setattr(f, f"transition{i + 1}", Transition(c, c // 2))
                c //= 2
        f.norm5 = BN(c)
        self.features = f
        self.classifier = nn.Linear(c, classes)
        self.blocks = len(blocks)

    def forward(self, x):
        f = self.features
        x = F.max_pool2d(F.relu(f.norm0(f.conv0(x))), 3, 2, 1)
        for i in range(1, self.blocks + 1):
            x = getattr(f, f"denseblock{i}")(x)
            if i != self.blocks:
                x = getattr(f, f"transition{i}")(x)
        x = F.relu(f.norm5(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ---------------------------------------------------------------- MobileNetV2 (torchvision)
def make_divisible(v, d=8):
    new = max(d, int(v + d / 2) // d * d)
    if new < 0.9 * v:
        new += d
    return new


def conv_bn_relu6(cin, cout, k, stride=1, groups=1):
    return nn.Sequential(conv(cin, cout, k, stride, (k - 1) // 2, groups), BN(cout), Relu6())


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = int(round(cin * t))
        layers = []
        if t != 1:
            layers.append(conv_bn_relu6(cin, hidden, 1))
        layers += [conv_bn_relu6(hidden, hidden, 3, stride, hidden), conv(hidden, cout, 1), BN(cout)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, wm, last_channel, classes, channels):
        super().__init__()
        cin = make_divisible(32 * wm)
        layers = [conv_bn_relu6(channels, cin, 3, 2)]
        for t, c, n, s in self.SETTINGS:
            out = make_divisible(c * wm)
            for j in range(n):
                layers.append(InvertedResidual(cin, out, s if j == 0 else 1, t))
                cin = out
        layers.append(conv_bn_relu6(cin, last_channel, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last_channel, classes))

    def forward(self, x):
        x = self.features(x)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ---------------------------------------------------------------- ViT (timm VisionTransformer)
class LN(nn.LayerNorm):
    def forward(self, x):
        eps = 1e-5 if MUTATIONS["ln_eps_1e-5"] else self.eps
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, eps)


class TimmAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        scale = d ** -0.5 if MUTATIONS["attn_scale_dim"] else hd ** -0.5
        a = torch.softmax((q @ k.transpose(-2, -1)) * scale, dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, t, d))


class TorchAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention(D, heads, batch_first=True) used as self-attention."""

    def __init__(self, dim, heads):
        super().__init__(dim, heads, batch_first=True)

    def forward(self, x):
        if MUTATIONS["attn_scale_dim"]:
            raise ValueError("the attn_scale_dim mutation is only implemented for the timm layout")
        return super().forward(x, x, x, need_weights=False)[0]


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh" if MUTATIONS["gelu_tanh"] else "none"))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, layout):
        super().__init__()
        self.norm1 = LN(dim, eps=1e-6)
        self.attn = TimmAttention(dim, heads) if layout == "timm" else TorchAttention(dim, heads)
        self.norm2 = LN(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, channels, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, patch, stride=patch)


class ViT(nn.Module):
    def __init__(self, patch, dim, depth, heads, mlp_ratio, layout, classes, input_shape):
        super().__init__()
        h, w, c = input_shape
        if h % patch or w % patch:
            raise ValueError(f"input {h}x{w} is not a multiple of patch size {patch}")
        tokens = (h // patch) * (w // patch)
        # Registration order follows timm's state_dict order.
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + tokens, dim))
        self.patch_embed = PatchEmbed(c, dim, patch)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio, layout) for _ in range(depth)])
        self.norm = LN(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed.proj(x)  # [B, D, H/p, W/p]
        if MUTATIONS["patch_col_major"]:
            x = x.transpose(2, 3)
        x = x.flatten(2).transpose(1, 2)  # [B, T, D], row-major (h, w)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        x = self.norm(self.blocks(x))
        x = x.mean(1) if MUTATIONS["mean_pool"] else x[:, 0]
        return self.head(x)


# ---------------------------------------------------------------- construction
PRESETS = ("resnet18", "resnet50", "densenet121", "mobilenet_v2", "vit-tiny")


def build(preset, options, classes, input_shape):
    """input_shape is Cohort's [H, W, C]; options hold the PRESETS.md knobs (missing = default)."""
    o = dict(options)
    c = input_shape[2]
    if preset == "resnet18":
        return ResNet(BasicBlock, (2, 2, 2, 2), o.get("width", 64), classes, c)
    if preset == "resnet50":
        return ResNet(Bottleneck, (3, 4, 6, 3), o.get("width", 64), classes, c)
    if preset == "densenet121":
        return DenseNet(o.get("growth", 32), classes, c)
    if preset == "mobilenet_v2":
        wm = o.get("widthMultiplier", 1.0)
        return MobileNetV2(wm, o.get("lastChannel", make_divisible(1280 * max(1.0, wm))), classes, c)
    if preset == "vit-tiny":
        return ViT(o.get("patchSize", 16), o.get("embedDim", 192), o.get("depth", 12), o.get("heads", 3),
                   o.get("mlpRatio", 4), o.get("attentionLayout", "timm"), classes, input_shape)
    raise ValueError(f"unknown preset {preset}")


def randomize(model, seed, input_shape):
    """Deterministic init that makes eval mode non-trivial while keeping activations at unit scale.

    Convs Kaiming-normal (fan_out, as torchvision); BatchNorm weight U(0.5, 1.5), bias N(0, 0.1);
    BatchNorm running statistics calibrated, then perturbed: in one eval-mode pass over 32 random
    images (4 above 64x64), a hook just before each BatchNorm takes its input's per-channel mean m
    and variance v (v floored at 0.1 * its mean over the layer's channels, so near-constant
    channels do not amplify float32 rounding by ~1e3) and sets running_mean = m + N(0, 0.1) *
    sqrt(v), running_var = v * U(0.5, 1.5). Calibrating in eval mode, layer by layer, keeps the
    perturbations from compounding with depth (a train-mode calibration let full-size ResNet-50's
    residual stream grow to a mean of ~36 and its logits to ~110). (Literal running
    statistics N(0, 0.1) / U(0.5, 1.5) do not match the activations of a random network: DenseNet's
    eval logits reached ~7e3, or with fan_in conv init came out nearly the same for every input,
    so a 1e-4 comparison would have tested little.) num_batches_tracked is set to 0.
    LayerNorm weight U(0.5, 1.5), bias N(0, 0.1); ViT cls_token and pos_embed N(0, 0.5); ViT
    linears N(0, 1/fan_in) with biases N(0, 0.1) (unit-scale attention scores, so softmax is far
    from uniform); other linears PyTorch's default uniform init (non-zero bias)."""
    g = torch.Generator().manual_seed(seed)

    def normal(t, std):
        t.copy_(torch.randn(t.shape, generator=g) * std)

    def uniform(t, lo, hi):
        t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)

    vit = isinstance(model, ViT)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups
                normal(m.weight, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    normal(m.bias, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                uniform(m.weight, 0.5, 1.5)
                normal(m.bias, 0.1)
            elif isinstance(m, nn.LayerNorm):
                uniform(m.weight, 0.5, 1.5)
                normal(m.bias, 0.1)
            elif isinstance(m, nn.Linear) or isinstance(m, nn.MultiheadAttention):
                ws = [(m.weight, m.bias)] if isinstance(m, nn.Linear) else [(m.in_proj_weight, m.in_proj_bias)]
                for w, b in ws:
                    fan_in = w.shape[1]
                    if vit:
                        normal(w, 1.0 / math.sqrt(fan_in))
                        normal(b, 0.1)
                    else:
                        bound = 1.0 / math.sqrt(fan_in)
                        uniform(w, -bound, bound)
                        uniform(b, -bound, bound)
        if vit:
            normal(model.cls_token, 0.5)
            normal(model.pos_embed, 0.5)
        bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        if bns:
            h, w, c = input_shape
            calibration = torch.randn(32 if h * w <= 64 * 64 else 4, c, h, w, generator=g)

            def calibrate(m, inputs):
                # Runs just before the layer in an eval-mode pass, so it sees the activations
                # the already-calibrated (and perturbed) layers upstream produce in eval mode.
                x = inputs[0]
                var = x.var((0, 2, 3))
                # Near-constant channels (mostly-dead ReLU6 inputs) would divide by ~sqrt(1e-7)
                # and turn float32 rounding into 1e-4-sized logit noise.
                var = var.clamp(min=0.1 * float(var.mean()))
                m.running_mean.copy_(x.mean((0, 2, 3)) + torch.randn(var.shape, generator=g) * var.sqrt() * 0.1)
                m.running_var.copy_(var * (torch.rand(var.shape, generator=g) + 0.5))
                m.num_batches_tracked.fill_(0)

            handles = [m.register_forward_pre_hook(calibrate) for m in bns]
            model.eval()
            model(calibration)
            for handle in handles:
                handle.remove()
    return model.eval()


def timm_to_torch_attention(state):
    """Renames a timm-layout ViT state_dict to the nn.MultiheadAttention layout (same math)."""
    out = {}
    for k, v in state.items():
        k = k.replace(".attn.qkv.weight", ".attn.in_proj_weight").replace(".attn.qkv.bias", ".attn.in_proj_bias")
        k = k.replace(".attn.proj.", ".attn.out_proj.")
        out[k] = v
    return out


def torch_to_timm_attention(state):
    """The inverse of timm_to_torch_attention."""
    out = {}
    for k, v in state.items():
        k = k.replace(".attn.in_proj_weight", ".attn.qkv.weight").replace(".attn.in_proj_bias", ".attn.qkv.bias")
        k = k.replace(".attn.out_proj.", ".attn.proj.")
        out[k] = v
    return out


def state_dict(model):
    """Contiguous state_dict copy (float32 tensors, int64 num_batches_tracked)."""
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
