#!/usr/bin/env python3
"""Writes the PyTorch interop fixture used by Tests/CohortCheckpointTests (run once; the
outputs are committed). Needs torch and safetensors (the peer venv plus `pip install safetensors`).

  model.safetensors  state_dict of a small CNN written by the safetensors library
  arch.json          the same network as a Cohort model description
  expected.json      every tensor's float32 bit patterns, a fixed NCHW input, and PyTorch's
                     eval-mode logits for it
  dtypes.safetensors F16 / BF16 / F64 / I64 tensors, with their float32 conversions in expected.json

Usage: python scripts/make-safetensors-fixture.py [OUT_DIR]  (default Tests/CohortCheckpointTests/Fixtures)
"""
import json
import os
import struct
import sys
from collections import OrderedDict

import torch
from safetensors.torch import save_file
from torch import nn

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "Tests", "CohortCheckpointTests", "Fixtures")
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)

model = nn.Sequential(OrderedDict([
    ("features", nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))),
    ("flatten", nn.Flatten()),
    ("head", nn.Linear(4 * 4 * 4, 3)),
]))
# A few training steps so BatchNorm's running statistics and the weights are not the defaults.
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(5):
    x = torch.randn(16, 1, 8, 8) * 2 + 0.5
    loss = nn.functional.cross_entropy(model(x), torch.randint(0, 3, (16,)))
    opt.zero_grad()
    loss.backward()
    opt.step()
model.eval()
state = {k: v.contiguous() for k, v in model.state_dict().items()}
save_file(state, os.path.join(out, "model.safetensors"), metadata={"source": "scripts/make-safetensors-fixture.py"})

arch = {"inputShape": [8, 8, 1], "layers": [
    {"kind": "conv2d", "name": "features.0", "units": 4, "kernel": 3, "padding": 1},
    {"kind": "batchnorm2d", "name": "features.1"},
    {"kind": "relu", "name": "features.2"},
    {"kind": "maxpool2d", "name": "features.3", "kernel": 2},
    {"kind": "flatten", "name": "flatten"},
    {"kind": "dense", "name": "head", "units": 3},
]}
with open(os.path.join(out, "arch.json"), "w") as f:
    json.dump(arch, f, indent=1)


def bits(t):
    return [f"{struct.unpack('<I', struct.pack('<f', v))[0]:08x}" for v in t.detach().float().reshape(-1).tolist()]


x = torch.randn(2, 1, 8, 8)
with torch.no_grad():
    logits = model(x)
dtypes = {
    "half": torch.tensor([1.0, -2.5, 0.099976, 65504.0, 6.1e-5], dtype=torch.float16),
    "brain": torch.tensor([1.0, -3.140625, 1e20, -1e-20], dtype=torch.bfloat16),
    "double": torch.tensor([[0.1, -1e-3], [123456.789, 2.0 ** -30]], dtype=torch.float64),
    "long": torch.tensor([0, -7, 16777216], dtype=torch.int64),
}
save_file(dtypes, os.path.join(out, "dtypes.safetensors"))
expected = {
    "tensors": {k: {"shape": list(v.shape), "bits": bits(v)} for k, v in state.items() if v.is_floating_point()},
    "input_nchw": {"shape": list(x.shape), "bits": bits(x)},
    "logits": {"shape": list(logits.shape), "bits": bits(logits)},
    "dtypes": {k: {"shape": list(v.shape), "bits": bits(v)} for k, v in dtypes.items()},
    "torch": torch.__version__,
}
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
print("wrote", out)
