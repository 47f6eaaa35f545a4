"""Issue 18, row 3h: which BatchNorm statistics a scale trained on windows should sample with.

G samples with the running averages of its BatchNorm layers. A scale trained on windows ends with
those of its last few windows; training now replaces them with whole-image passes
(`ScaleTrainer.settle_statistics`). This script puts the three candidates side by side on a trained
model, at its LAST scale only (replacing a lower scale's statistics would change the inputs the
scales above it were trained on), each in a copy of the model, evaluated like `quality_runs.py`:

* `stored`: the statistics as the model was saved;
* `whole`: `settle_statistics` with the model's final weights;
* `windows`: the exact average of the batch statistics of 100 windows of the training mix (a
  random sample's window, then the reconstruction's), the statistics the windows themselves had.

    python benchmarks/last_scale_statistics.py runs/fast-v2/mountains3-seed1 --name fast-v2

One JSON line per candidate goes to benchmarks/results/statistics_runs.jsonl.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from singan_tf.cli.main import import_tensorflow_quietly

import_tensorflow_quietly()

from quality_runs import ROOT, evaluate_and_draw, record  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "statistics_runs.jsonl"
WINDOWS = 100
CANDIDATES = ("stored", "whole", "windows")


def _window_average(trainer) -> None:
    """Each BatchNorm layer's running mean and variance set to their average over WINDOWS windows'
    batches. A training-mode call moves a running value v to (1 - m) v + m b, so each call's batch
    value b is read back from v before and after it."""
    import tensorflow as tf

    from singan_tf.pyramid import generator_input

    norms = [block.norm for block in trainer.generator.blocks]

    def one_window(iteration: tf.Tensor) -> list[tf.Tensor]:
        noise = trainer._scale_noise(trainer.noise_shape, iteration, 0, trainer.scale)
        prev = trainer._random_prev(iteration, tf.constant(0))
        config, step = trainer.config, tf.constant(0)
        fake = trainer._crop(iteration, step, generator_input(noise, prev, trainer.noise_amp, config.noise_padding),
                             prev, trainer.real)
        rec_input = generator_input(trainer.reconstruction_noise(iteration), trainer.z_prev, trainer.noise_amp,
                                    config.noise_padding)
        rec = trainer._crop(iteration, step, rec_input, trainer.z_prev, trainer.real)
        batch = []
        for padded_input, window_prev, _ in (fake, rec):
            before = [(tf.identity(n.moving_mean), tf.identity(n.moving_variance)) for n in norms]
            with tf.control_dependencies([v for pair in before for v in pair]):
                out = trainer.generator([padded_input, window_prev], padded=True, training=True)
            with tf.control_dependencies([out]):
                for n, (mean, variance) in zip(norms, before):
                    m = n.momentum
                    batch += [(n.moving_mean - (1 - m) * mean) / m, (n.moving_variance - (1 - m) * variance) / m]
        return batch

    traced = tf.function(one_window, autograph=False).get_concrete_function(tf.constant(0))
    batches = [traced(tf.constant(trainer.niter + k)) for k in range(WINDOWS)]
    total = [tf.add_n([b[i] for b in batches]) / WINDOWS for i in range(len(batches[0]))]
    for j, n in enumerate(norms):
        n.moving_mean.assign((total[2 * j] + total[2 * len(norms) + 2 * j]) / 2)
        n.moving_variance.assign((total[2 * j + 1] + total[2 * len(norms) + 2 * j + 1]) / 2)


def replace_last_statistics(model_dir: Path, candidate: str) -> None:
    """Rewrite the last scale's generator of `model_dir` with `candidate`'s statistics."""
    import tensorflow as tf

    from singan_tf import model_store
    from singan_tf.config import TrainConfig
    from singan_tf.pyramid import Pyramid
    from singan_tf.training import ScaleTrainer

    manifest = model_store.read_manifest(model_dir)
    n = manifest["completed_scales"] - 1
    pyramid = model_store.load_pyramid(model_dir, manifest)
    coarser = Pyramid(pyramid.generators[:n], pyramid.noise_amps[:n], pyramid.scale_sizes[:n],
                      pyramid.scale_factor, pyramid.z_star, pyramid.noise_padding)
    real = tf.constant(model_store.load_tensors(model_dir, n)["real"])
    trainer = ScaleTrainer(n, real, coarser, TrainConfig.from_dict(manifest["config"]), manifest["seed"])
    trainer.generator.set_weights(pyramid.generators[n].get_weights())
    trainer.noise_amp = manifest["noise_amps"][n]
    if not trainer.cropped:
        raise click.ClickException(f"{model_dir}'s last scale was trained on the whole image: nothing to compare")
    if candidate == "whole":
        trainer.settle_statistics()
    else:
        _window_average(trainer)
    trainer.generator.save_weights(str(model_store.scale_dir(model_dir, n) / "generator.weights.h5"))


@click.command()
@click.argument("model", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="The model's name in the results, e.g. fast-v2.")
@click.option("--work", type=click.Path(path_type=Path), default=ROOT / "runs" / "statistics", show_default=True,
              help="Where the copies go.")
@click.option("--results", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(model: Path, name: str, work: Path, results: Path) -> None:
    """Evaluate MODEL with its last scale's stored, whole-image and window-averaged statistics."""
    from singan_tf import model_store

    for candidate in CANDIDATES:
        copy = work / f"{name}-{candidate}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(model, copy)
        if candidate != "stored":
            replace_last_statistics(copy, candidate)
        manifest = model_store.read_manifest(copy)
        line = {"name": name, "model": str(model), "statistics": candidate, "scale": manifest["completed_scales"] - 1,
                **evaluate_and_draw(copy, copy / "grid.png")}
        record(line, results, None, ("name", "statistics", "from_0", "from_1"))


if __name__ == "__main__":
    main()
