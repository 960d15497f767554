"""A small, configurable CNN, and rebuilding it from a saved ``model.pt``."""

from __future__ import annotations

import torch
from torch import nn


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """A 3x3 convolution (padding 1, no bias: the BatchNorm has one), BatchNorm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class SmallCNN(nn.Module):
    """``depth`` stages of conv-BN-ReLU; channels start at ``width`` and double per stage.

    Each stage but the last halves the resolution with a 2x2 max-pool while the image is at least
    4 pixels wide; the head is global average pooling and a linear layer.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        width: int = 32,
        depth: int = 3,
        image_size: int = 8,
    ):
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError("width and depth must be >= 1")
        self.config = dict(
            in_channels=in_channels, num_classes=num_classes, width=width, depth=depth, image_size=image_size
        )
        layers: list[nn.Module] = []
        cin, size = in_channels, image_size
        for stage in range(depth):
            cout = width * 2**stage
            layers.append(conv_bn_relu(cin, cout))
            if stage < depth - 1 and size >= 4:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


MAX_PARAMETERS = 100_000_000  # a "small" CNN; beyond this a typo in --width/--depth is the likely cause


def max_depth(image_size: int) -> int:
    """The most stages that make sense: one per 2x2 max-pool the image allows, plus the last stage.

    Further stages would run at the final 2-3 pixel resolution while still doubling the channels.
    """
    depth, size = 1, image_size
    while size >= 4:
        depth, size = depth + 1, size // 2
    return depth


def count_parameters(in_channels: int, num_classes: int, width: int, depth: int) -> int:
    """Parameters of ``SmallCNN`` with this configuration, without building it."""
    total, cin = 0, in_channels
    for stage in range(depth):
        cout = width * 2**stage
        total += 9 * cin * cout + 2 * cout  # bias-free conv + BatchNorm's weight and bias
        cin = cout
    return total + cin * num_classes + num_classes


def build_model(in_channels: int, num_classes: int, width: int, depth: int, image_size: int) -> SmallCNN:
    """A ``SmallCNN`` with this configuration (the keys of ``SmallCNN.config``)."""
    return SmallCNN(
        in_channels=in_channels, num_classes=num_classes, width=width, depth=depth, image_size=image_size
    )


def save_model(path, model: SmallCNN, extra: dict) -> None:
    """Save the state_dict plus everything needed to rebuild and feed the model (config, normalisation)."""
    from contract import atomic_save

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_save({"state_dict": state, "config": dict(model.config), **extra}, path)


def load_model(path, map_location="cpu") -> tuple[SmallCNN, dict]:
    """Rebuild the model from ``model.pt``; returns (model in eval mode, the whole saved dict)."""
    saved = torch.load(path, map_location=map_location, weights_only=True)
    model = build_model(**saved["config"])
    model.load_state_dict(saved["state_dict"])
    return model.eval(), saved
