"""What a scale costs, counted from the convolution shapes (no profiling, so `plan` is instant).

FLOPs count a multiply-add as 2 and only the convolutions (BatchNorm, activations and the resize
are a few percent). Backward = 2x forward (input and weight gradients); the gradient penalty's
forward + input-gradient + double backward = 6x a critic forward.
"""

from __future__ import annotations

from typing import Any

from singan_tf.config import TrainConfig
from singan_tf.models import KERNEL_SIZE, NUM_LAYERS, PADDING
from singan_tf.scale_plan import plan_scales

_TAPS = KERNEL_SIZE * KERNEL_SIZE


def _layer_widths(channels: int, out_channels: int) -> list[tuple[int, int]]:
    return [(3 if i == 0 else channels, channels) for i in range(NUM_LAYERS - 1)] + [(channels, out_channels)]


def _forward_flops(in_h: int, in_w: int, channels: int, out_channels: int) -> int:
    total, h, w = 0, in_h, in_w
    for c_in, c_out in _layer_widths(channels, out_channels):
        h, w = h - KERNEL_SIZE + 1, w - KERNEL_SIZE + 1
        total += 2 * _TAPS * c_in * c_out * h * w
    return total


def generator_flops(h: int, w: int, channels: int) -> int:
    return _forward_flops(h + 2 * PADDING, w + 2 * PADDING, channels, 3)


def discriminator_flops(h: int, w: int, channels: int) -> int:
    return _forward_flops(h, w, channels, 1)


def parameter_count(channels: int, out_channels: int) -> int:
    """Trainable parameters (conv weights and biases, BatchNorm gamma and beta), as PyTorch counts them."""
    layers = _layer_widths(channels, out_channels)
    convs = sum(_TAPS * c_in * c_out + c_out for c_in, c_out in layers)
    return convs + sum(2 * c_out for _, c_out in layers[:-1])


def iteration_flops(sizes: list[tuple[int, int]], channels: list[int], scale: int, config: TrainConfig) -> int:
    """One training iteration at `scale`: d_steps critic steps, the random passes through the
    frozen coarser generators at their full size (`coarse_draws`), and g_steps generator steps with
    the reconstruction, both networks on the training window (`crop_size`; the reconstruction on
    the whole image with `whole_image_reconstruction`)."""
    h, w = config.training_window(*sizes[scale])
    g, d = generator_flops(h, w, channels[scale]), discriminator_flops(h, w, channels[scale])
    coarser = sum(generator_flops(*sizes[k], channels[k]) for k in range(scale))
    critic_step = g + 3 * d + 3 * d + 6 * d
    reconstruction = generator_flops(*sizes[scale], channels[scale]) if config.whole_image_reconstruction else g
    generator_step = 3 * (g + d) + 3 * reconstruction
    draws = config.coarse_draws(*sizes[scale])
    return draws * coarser + config.d_steps * critic_step + config.g_steps * generator_step


def describe_plan(image_size: tuple[int, int], config: TrainConfig) -> dict[str, Any]:
    plan = plan_scales(image_size[0], image_size[1], config)
    sizes, channels = list(plan.scale_sizes), list(plan.channels)
    scales = []
    for n, ((h, w), c) in enumerate(zip(sizes, channels)):
        scales.append({
            "scale": n, "height": h, "width": w, "channels": c,
            "generator_params": parameter_count(c, 3), "discriminator_params": parameter_count(c, 1),
            "gflop_per_iter": iteration_flops(sizes, channels, n, config) / 1e9, "niter": config.iterations(h, w),
        })
    total_tflop = sum(s["gflop_per_iter"] * s["niter"] for s in scales) / 1e3
    return {
        "source_size": list(plan.source_size),
        "num_scales": plan.num_scales,
        "scale_factor": plan.scale_factor,
        "scales": scales,
        "total_tflop": total_tflop,
        "hours_at_100_gflops": total_tflop * 1e3 / 100 / 3600,
    }
