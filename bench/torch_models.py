"""PyTorch model definitions shared by kiln's fixture generator and benchmarks.

Used by:
  tests/data/make_fixtures.py   (training-step fixtures + exported ONNX test models)
  bench/torch_train.py          (PyTorch training-speed peer numbers)
  bench/torch_infer.py          (PyTorch eager inference latency)

All models take float32 input [N, 1, 28, 28] and return logits [N, 10].
The attribute names (fc1, conv1, bn1, ...) are the PyTorch state_dict names that
the fixtures use (param_fc1.weight.pb, grad_conv1.bias.pb, ...).

MLP and LeNet also expose LAYERS: the layer list in model order with their
hyper-parameters, written to the fixtures' manifest.txt so kiln's C tests can
rebuild exactly the same network.
"""
import torch
import torch.nn as nn


class MLP(nn.Module):
    """Flatten -> Linear(784,128) -> ReLU -> Linear(128,64) -> ReLU -> Linear(64,10)."""

    LAYERS = [
        ("flatten", None, {"axis": 1}),
        ("linear", "fc1", {"in": 784, "out": 128}),
        ("relu", None, {}),
        ("linear", "fc2", {"in": 128, "out": 64}),
        ("relu", None, {}),
        ("linear", "fc3", {"in": 64, "out": 10}),
    ]

    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.flatten(x)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class LeNet(nn.Module):
    """LeNet-5 with BatchNorm:
    Conv(1,6,5,pad 2) BN ReLU MaxPool2 Conv(6,16,5) BN ReLU MaxPool2 Flatten
    Linear(400,120) ReLU Linear(120,84) ReLU Linear(84,10)."""

    LAYERS = [
        ("conv", "conv1", {"in": 1, "out": 6, "kernel": 5, "stride": 1, "pad": 2, "group": 1}),
        ("batchnorm", "bn1", {"channels": 6, "eps": 1e-5, "momentum": 0.1}),
        ("relu", None, {}),
        ("maxpool", None, {"kernel": 2, "stride": 2, "pad": 0}),
        ("conv", "conv2", {"in": 6, "out": 16, "kernel": 5, "stride": 1, "pad": 0, "group": 1}),
        ("batchnorm", "bn2", {"channels": 16, "eps": 1e-5, "momentum": 0.1}),
        ("relu", None, {}),
        ("maxpool", None, {"kernel": 2, "stride": 2, "pad": 0}),
        ("flatten", None, {"axis": 1}),
        ("linear", "fc1", {"in": 400, "out": 120}),
        ("relu", None, {}),
        ("linear", "fc2", {"in": 120, "out": 84}),
        ("relu", None, {}),
        ("linear", "fc3", {"in": 84, "out": 10}),
    ]

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = self.pool(torch.relu(self.bn2(self.conv2(x))))
        x = self.flatten(x)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    """Conv3x3-BN-ReLU-Conv3x3-BN + shortcut, then ReLU.  Shortcut is the identity,
    or Conv1x1(stride)+BN when the shape changes."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


class ResNetSmall(nn.Module):
    """Stem Conv3x3(16)+BN+ReLU, 2 identity basic blocks (16 ch), one downsampling
    block (stride 2, 32 ch, Conv1x1 s2 + BN shortcut), GAP, Flatten, Linear(32,10)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(16), nn.ReLU())
        self.block1 = BasicBlock(16, 16)
        self.block2 = BasicBlock(16, 16)
        self.block3 = BasicBlock(16, 32, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(self.stem(x))))
        return self.fc(self.flatten(self.pool(x)))


class DWSepBlock(nn.Module):
    """Depthwise Conv3x3 (groups=C) + BN + ReLU6, pointwise Conv1x1 + BN + Hardswish."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False)
        self.bn_dw = nn.BatchNorm2d(cin)
        self.act_dw = nn.ReLU6()
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn_pw = nn.BatchNorm2d(cout)
        self.act_pw = nn.Hardswish()

    def forward(self, x):
        x = self.act_dw(self.bn_dw(self.dw(x)))
        return self.act_pw(self.bn_pw(self.pw(x)))


class DWSep(nn.Module):
    """Conv3x3(16)+BN+ReLU6, DWSep(16->32, s2), DWSep(32->64, s2), GAP, Flatten, Linear(64,10)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(16), nn.ReLU6())
        self.block1 = DWSepBlock(16, 32, stride=2)
        self.block2 = DWSepBlock(32, 64, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        return self.fc(self.flatten(self.pool(x)))


MODELS = {
    "mlp": MLP,
    "lenet": LeNet,
    "resnet_small": ResNetSmall,
    "dwsep": DWSep,
}


def build(name):
    """Construct a model by name (mlp, lenet, lenet_bn, lenet_folded, resnet_small, dwsep)."""
    if name in ("lenet_bn", "lenet_folded"):
        name = "lenet"
    return MODELS[name]()
