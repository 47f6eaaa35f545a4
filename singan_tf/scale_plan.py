"""The image pyramid's geometry, computed exactly as the official SinGAN's `adjust_scales2image`.

Sizes are float-sensitive (`ceil` of a float product), so this uses Python floats (float64) and the
same order of operations as the official code; the tests recompute them from the formulas.
"""

from __future__ import annotations

import dataclasses
import math

from singan_tf.config import TrainConfig
from singan_tf.errors import SinganError


@dataclasses.dataclass(frozen=True)
class ScalePlan:
    """Where each generator works: sizes coarsest first, and the ratio that links them."""

    source_size: tuple[int, int]
    # `scale1` of the official code: the original is shrunk by this (<= 1) to fit max_size.
    resize_factor: float
    scale_sizes: tuple[tuple[int, int], ...]
    scale_factor: float
    channels: tuple[int, ...]

    @property
    def num_scales(self) -> int:
        """How many generators the pyramid has."""
        return len(self.scale_sizes)

    @property
    def finest_size(self) -> tuple[int, int]:
        """(height, width) of the last scale: the training image as the model sees it."""
        return self.scale_sizes[-1]

    def pyramid_scale(self, scale: int) -> float:
        """Factor from the finest image to scale `scale` (each level is resized from the finest)."""
        return self.scale_factor ** (self.num_scales - 1 - scale)


def _log(x: float, base: float) -> float:
    return math.log(x) / math.log(base)


def plan_scales(height: int, width: int, config: TrainConfig) -> ScalePlan:
    """The official pyramid for an image of `height` x `width`, or a SinganError saying why not."""
    sf0, min_size, max_size = config.scale_factor, config.min_size, config.max_size
    if min(height, width) < 1:
        raise SinganError(f"image has no pixels ({height}x{width})")
    num_scales = math.ceil(_log(min_size / min(height, width), sf0)) + 1
    scale2stop = math.ceil(_log(min(max_size, max(height, width)) / max(height, width), sf0))
    stop_scale = num_scales - scale2stop
    scale1 = min(max_size / max(height, width), 1.0)
    finest = (math.ceil(height * scale1), math.ceil(width * scale1))
    if stop_scale < 1 or min(finest) <= min_size:
        raise SinganError(
            f"image is too small for min-size {min_size}: {height}x{width} becomes {finest[0]}x{finest[1]} "
            f"at max-size {max_size}, and its short side must exceed {min_size} px "
            f"(lower --min-size or raise --max-size)"
        )
    scale_factor = (min_size / min(finest)) ** (1 / stop_scale)
    sizes = []
    for i in range(stop_scale + 1):
        s = scale_factor ** (stop_scale - i)
        sizes.append((math.ceil(finest[0] * s), math.ceil(finest[1] * s)))
    return ScalePlan(
        source_size=(height, width),
        resize_factor=scale1,
        scale_sizes=tuple(sizes),
        scale_factor=scale_factor,
        channels=tuple(config.channels(i) for i in range(stop_scale + 1)),
    )

