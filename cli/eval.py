"""`singan-tf eval`: how good a trained model's samples are, in numbers."""

from __future__ import annotations

import json
from pathlib import Path

import click

from singan_tf.cli.notes import note
from singan_tf.cli.options import noise_scale_option


@click.command("eval")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--num", type=click.IntRange(2, 10000), default=50, show_default=True,
              help="How many samples to score (seeds S..S+NUM-1).")
@click.option("--scale-from", type=click.IntRange(0), default=0, show_default=True,
              help="0 = fully random samples; K > 0 keeps the reconstruction below scale K (as `sample`).")
@noise_scale_option()
@click.option("--seed", type=click.IntRange(0, 2**62), default=0, show_default=True, help="First sample's seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--inception-weights", type=click.Path(path_type=Path), default=None,
              help="Keras' ImageNet InceptionV3 no-top weights file (inception_v3_weights_tf_dim_ordering_tf_kernels_"
                   "notop.h5), to also compute SIFID. Nothing is downloaded.")
def command(model_dir: Path, num: int, scale_from: int, noise_scale: float, seed: int, as_json: bool,
            inception_weights: Path | None) -> None:
    """Score NUM samples of the model in MODEL_DIR against its training image.

    \b
    diversity     pixel std across samples / training image std (paper: ~0.5 from scale 0)
    patch SWD     sliced Wasserstein distance of 7x7 patches at 4 resolutions
    coherence     sample patches -> nearest training patch (RMS)
    completeness  training patches -> nearest sample patch (RMS)
    reconstruction RMSE of G(z*); SIFID with --inception-weights
    \b
    singan-tf eval models/balloons
    singan-tf eval models/balloons --scale-from 1 --num 20 --json
    singan-tf eval models/balloons --noise-scale 1.5
    """
    from singan_tf.api import load
    from singan_tf.evaluation import format_report

    report = load(model_dir, note).evaluate(num, scale_from, seed, noise_scale, inception_weights)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))
