"""Hyperparameters of one SinGAN training run, and the named presets the CLI offers."""

from __future__ import annotations

import dataclasses
from typing import Any

from singan_tf.errors import SinganError


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every number that changes what gets trained; stored verbatim in the model's manifest.

    Defaults are the official SinGAN's (config.py); the field names follow its flags where they exist.
    """

    max_size: int = 250
    min_size: int = 25
    scale_factor: float = 0.75
    niter: int = 2000
    nfc: int = 32
    max_nfc: int = 128
    lr_g: float = 5e-4
    lr_d: float = 5e-4
    beta1: float = 0.5
    gamma: float = 0.1
    lr_decay_at: float = 0.8
    d_steps: int = 3
    g_steps: int = 3
    lambda_grad: float = 0.1
    alpha: float = 10.0
    noise_amp: float = 0.1
    # The official code draws a new reconstruction noise z* at every scale-0 iteration and keeps the
    # last draw, so G_0 learns to reach the image from any noise and its reconstruction stays loose;
    # the next scale's noise amplitude (0.1 x that error) and with it the diversity of samples from
    # scale 1 depend on it. The paper's text keeps z* fixed; that variant halves scale-1 diversity.
    fixed_z_star: bool = False
    # Noise drawn over the generator's 5-pixel input border too (the official animation models), so
    # the image borders vary like its interior; the default zero border keeps them calmer.
    noise_padding: bool = False
    # Train on random windows of at most crop_size x crop_size pixels of scales larger than that
    # (0 = the whole image). Both networks are fully convolutional with an 11x11 field of view, so
    # a window's patches are the image's patches; the cost per iteration falls with the area.
    crop_size: int = 0
    # XLA fuses the whole iteration into one program: the choice on GPUs. On x86 CPUs its
    # convolutions are slower than oneDNN's, which the plain tf.function uses (docs/benchmarks.md).
    xla: bool = False
    # Small scales are bound by per-operation overhead, not arithmetic: there one fused XLA program
    # per iteration pays even on a CPU. Scales with at most this many pixels use XLA (0 = none).
    xla_max_pixels: int = 0
    # 16-bit convolutions where the hardware has them (precision.choose_policy), at every scale but
    # the small ones (`sixteen_bits`). Not the official numbers: only the fast preset turns it on.
    mixed_precision: bool = False
    # Iterations by cost: scales whose training window has at most small_max_pixels pixels train
    # small_niter iterations instead of niter (0 = niter everywhere). The coarse scales settle the
    # structure every sample inherits and cost little; the fine ones cost nearly all of a run.
    small_niter: int = 0
    small_max_pixels: int = 0
    # Where the channels double (every 4 scales) the official code starts the wider scale from
    # scratch, so that scale needs all of its iterations. Widened, it starts from the scale below's
    # networks with the new channels feeding nothing yet: it begins where that scale ended.
    widen_warm_start: bool = False
    # At a scale trained on windows, the coarser scales' sample costs as much as the window's own
    # networks, and the official code draws it for every critic step. Drawn once per iteration, each
    # critic step still sees a fake of its own: its own random window of that sample.
    one_coarse_draw: bool = False
    # At a scale trained on windows, the reconstruction term covers one window per iteration, which
    # G normalises with that window's batch statistics. Over the whole image it trains what G is
    # later asked for, the whole image from the reconstruction's input, for the price of G on the
    # whole image in every generator step (docs/fast-mode.md measures what it buys).
    whole_image_reconstruction: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.max_size < 8:
            problems.append(f"max_size must be at least 8 (got {self.max_size})")
        if not 11 <= self.min_size < self.max_size:
            # The critic scores 11x11 patches, so the coarsest image must hold at least one.
            problems.append(f"min_size must be in [11, max_size) (got {self.min_size})")
        if not 0.1 <= self.scale_factor < 1:
            problems.append(f"scale_factor must be in [0.1, 1) (got {self.scale_factor})")
        if self.crop_size and self.crop_size < 11:
            problems.append(f"crop_size must be 0 (whole image) or at least 11, one critic patch (got {self.crop_size})")
        if self.small_niter < 0 or self.small_max_pixels < 0:
            problems.append("small_niter and small_max_pixels must be 0 (off) or positive")
        if self.niter < 1 or self.d_steps < 1 or self.g_steps < 1 or self.nfc < 1:
            problems.append("niter, d_steps, g_steps and nfc must be positive")
        if problems:
            raise SinganError("; ".join(problems))

    def training_window(self, height: int, width: int) -> tuple[int, int]:
        """The part of a scale one training step sees: the whole image, or at most crop_size per side."""
        if not self.crop_size:
            return height, width
        return min(height, self.crop_size), min(width, self.crop_size)

    def is_small(self, height: int, width: int) -> bool:
        """Whether a scale is one of the cheap coarse ones `small_niter` is for: its training window
        has at most `small_max_pixels` pixels (none where `small_niter` is 0)."""
        window_h, window_w = self.training_window(height, width)
        return bool(self.small_niter) and window_h * window_w <= self.small_max_pixels

    def iterations(self, height: int, width: int) -> int:
        """Training iterations of a scale of this size (`small_niter`, else `niter`)."""
        return self.small_niter if self.is_small(height, width) else self.niter

    def sixteen_bits(self, height: int, width: int) -> bool:
        """Whether `mixed_precision` runs a scale's convolutions in 16 bits: not at the small scales.
        They are bound by per-operation overhead, so 16 bits made them no faster (0.7-1.3x float32's
        speed on Zen 5, within the noise of milliseconds), while they set the layout every sample
        inherits; at the fast preset's other scales bfloat16 ran 1.3-1.6x as fast (docs/benchmarks.md)."""
        return self.mixed_precision and not self.is_small(height, width)

    def coarse_draws(self, height: int, width: int) -> int:
        """Samples of the coarser scales one iteration of a scale of this size draws: one per critic
        step, or one in all (`one_coarse_draw`) where the steps train on windows, each its own."""
        cropped = self.training_window(height, width) != (height, width)
        return 1 if self.one_coarse_draw and cropped else self.d_steps

    def uses_xla(self, height: int, width: int) -> bool:
        """Whether a scale of this size compiles its training iteration with XLA."""
        return self.xla or height * width <= self.xla_max_pixels

    def channels(self, scale: int) -> int:
        """Width of every hidden layer at a scale: doubles every 4 scales, capped (official rule)."""
        return min(self.nfc * 2 ** (scale // 4), self.max_nfc)

    def with_overrides(self, **overrides: Any) -> "TrainConfig":
        """A copy with some fields replaced; `None` means "not given", so CLI flags can pass through."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the manifest (JSON): `from_dict` gives the same config back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """The config a manifest recorded; fields it predates get the value that version trained with."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise SinganError(f"unknown config fields: {', '.join(sorted(unknown))}")
        return cls(**{**LEGACY_VALUES, **values})


# What models saved before a field existed were trained with, where that differs from its default.
LEGACY_VALUES: dict[str, Any] = {"fixed_z_star": True}


PRESETS: dict[str, TrainConfig] = {
    # The official defaults: what the paper's figures were made with.
    "paper": TrainConfig(),
    # The fast mode: the paper's image size and pyramid in about a tenth of its time, with samples
    # measured as good: windows of 96 px and 64 channels at the fine scales, 2000 iterations where a
    # scale is cheap and 600 where it is not, a widened warm start where the channels double, and the
    # reconstruction over the whole image, and 16-bit convolutions above the small scales where the
    # hardware has them (a fifth of the run off, the same `eval` figures). What each lever costs and
    # gives, as measured, and the one left out (one_coarse_draw): docs/fast-mode.md.
    "fast": TrainConfig(crop_size=96, max_nfc=64, niter=600, small_niter=2000, small_max_pixels=5000,
                        widen_warm_start=True, whole_image_reconstruction=True, mixed_precision=True),
    # The demo: a smaller image and fewer iterations, 3-6 minutes on 2 CPU cores.
    "quick": TrainConfig(max_size=96, min_size=25, niter=300),
    # For tests: three tiny scales and a handful of iterations, seconds on a CPU.
    "tiny": TrainConfig(max_size=32, min_size=20, niter=20, nfc=8, max_nfc=16),
}


# What `singan-tf train IMAGE`, `plan`, `train-many`, `animate` and `singan_tf.train` use: the fast
# mode, since its samples measured as good as the paper preset's in a tenth of the time (the issue 18
# tables in docs/benchmarks.md). `--preset paper` stays the official code's settings, number for number.
DEFAULT_PRESET = "fast"


def preset(name: str, **overrides: Any) -> TrainConfig:
    """A preset with some fields replaced (`None` = keep the preset's value)."""
    if name not in PRESETS:
        raise SinganError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name].with_overrides(**overrides)


def option_name(field: str) -> str:
    """A field's name on the command line (`--name`, `--no-name` for a switch), in one place: the CLI
    makes its options from it, and a resume error names the flags that give a model its own values."""
    return field.replace("_", "-")
