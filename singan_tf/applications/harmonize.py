"""Harmonization and editing: inject a pasted or edited image at scale n, let the finer scales redraw
it in the training image's patch statistics, and blend the result into the training image through
the soft mask. The two differ only in the mask's dilation radius (7 vs 20) and in what is saved.
"""

from __future__ import annotations

import tensorflow as tf

from singan_tf.applications.common import (
    InjectionResult, Note, ResultRow, TrainedModel, fit_to_size, ignore_note, inject_at, injection_scales,
    load_at_size,
)
from singan_tf.applications.masks import assert_not_empty, load_mask, soft_mask
from singan_tf.image_io import ImageSource
from singan_tf.pyramid import Pyramid
from singan_tf.sampler import Sampler


def blend(generated: tf.Tensor, background: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """(1 - mask) * background + mask * generated: outside the mask the training image is untouched."""
    return (1.0 - mask) * background + mask * generated


class MaskedInjection:
    """Harmonization (radius 7) or editing (radius 20) for one trained model, as pure TensorFlow.

    `__call__(image, mask, scale, seed)`: image [1, h, w, 3] and mask [1, h, w, C] in [-1, 1], any
    size (resized to the training size), scale a Python int or an int32 scalar tensor in 1..N-1,
    seed a Python int or int64 scalar. Returns {"generated", "blended", "mask"}, each [1, H, W, 3]
    (images unclipped like every generator output, mask in [0, 1]). Traceable in a tf.function with
    unknown h, w and C, which is what an exported signature needs.
    """

    def __init__(self, pyramid: Pyramid, real: tf.Tensor, radius: int):
        self.sampler = Sampler(pyramid)
        self.real = real
        self.radius = radius

    def __call__(self, image: tf.Tensor, mask: tf.Tensor, scale, seed) -> dict[str, tf.Tensor]:
        size = self.sampler.finest
        mask = fit_to_size(mask, size)
        with tf.control_dependencies([assert_not_empty(mask)]):
            soft = soft_mask(mask, self.radius)
        generated = inject_at(self.sampler, fit_to_size(image, size), scale, seed)
        return {"generated": generated, "blended": blend(generated, self.real, soft), "mask": soft}


def masked_injection(
    model: TrainedModel,
    image: ImageSource,
    mask: ImageSource,
    radius: int,
    scale: int | None = None,
    seed: int = 0,
    keep_unmasked: bool = False,
    note: Note = ignore_note,
) -> InjectionResult:
    """Harmonization or editing of `image` inside `mask`, at one injection scale or all of them.

    Saved as the official scripts name their files: start_scale=<n>.png is the blended result
    (official harmonization); with `keep_unmasked` (official editing) start_scale=<n>.png is the
    generator's full output and start_scale=<n>_masked.png the blended one; mask_dilated.png is
    the mask that was used. Nothing is written beside the inputs (the official code writes the
    dilated mask into the input folder).
    """
    scales = injection_scales(model.pyramid.num_scales, scale)
    image = load_at_size(image, model.size, "image", note)
    mask = load_mask(mask, model.size, note)
    injection = MaskedInjection(model.pyramid, model.real, radius)
    results = {n: injection(image, mask, n, seed) for n in scales}
    soft = results[scales[0]]["mask"] * 2.0 - 1.0
    blended = {n: r["blended"] for n, r in results.items()}
    if keep_unmasked:
        generated = {n: r["generated"] for n, r in results.items()}
        rows = (ResultRow("input", image, "", generated), ResultRow("mask", soft, "_masked", blended))
    else:
        rows = (ResultRow("input", image, "", blended),)
    return InjectionResult(rows, {"mask_dilated": soft})
