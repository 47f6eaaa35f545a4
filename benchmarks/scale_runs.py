"""Issue 18, point 2: one lever at one scale, at equal everything else.

A whole 250-px run mixes every lever of the fast mode, and a paper-preset run to compare it with
takes half a day here. This trains ONE scale again: scales 0..N-1 are copied from a trained model
(the fast run's), scale N is trained with other settings on top of them (for instance without the
crop windows, with 128 channels, or with 2000 iterations), and the result, a model that ends at
scale N, is evaluated like `quality_runs.py` does (50 samples from scales 0 and 1, a grid) and
recorded as one JSON line in `benchmarks/results/scale_runs.jsonl`. Two such runs from one source
differ only in what the flags change.

    python benchmarks/scale_runs.py runs/fast/balloons-seed1 assets/balloons.png --scale 7 \\
        --name s7-whole-image --crop-size 0 --no-one-coarse-draw --commit

The flags are `train`'s; they override the source model's settings for scale N only (the copied
scales stay as they were trained, so a flag that would change them, such as --max-size, is refused).
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from pathlib import Path
from typing import Any

import click

from singan_tf.cli.main import import_tensorflow_quietly

import_tensorflow_quietly()

from quality_runs import ROOT, _measured, evaluate_and_draw, record  # noqa: E402
from singan_tf.cli.options import config_options, config_overrides  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "scale_runs.jsonl"
GRIDS = ROOT / "docs" / "images" / "quality"


class _ScaleDone(Exception):
    """Raised after scale N is saved: the run stops there."""


def copy_below(source: Path, target: Path, scale: int, config: Any, image: Path, seed: int) -> dict[str, Any]:
    """A model folder holding the source's scales 0..scale-1 and the new settings, ready to resume
    at `scale` with `seed`'s draws; refuses settings under which those scales would have been
    different. (Called with scale N+1 and the source's settings and seed, it is the source ending at
    scale N: the baseline arm.)"""
    from singan_tf import model_store
    from singan_tf.errors import SinganError
    from singan_tf.image_io import load_image
    from singan_tf.scale_plan import plan_scales

    manifest = model_store.read_manifest(source)
    if manifest["completed_scales"] < scale:
        raise SinganError(f"{source} has {manifest['completed_scales']} finished scales; this needs {scale}")
    plan = plan_scales(*load_image(image).shape[:2], config)
    same_sizes = [list(s) for s in plan.scale_sizes] == manifest["scale_sizes"]
    if not same_sizes or list(plan.channels[:scale]) != manifest["channels"][:scale]:
        raise SinganError("these settings change the scales below --scale; only scale N's own settings may differ")
    target.mkdir(parents=True)
    for n in range(scale):
        shutil.copytree(model_store.scale_dir(source, n), model_store.scale_dir(target, n))
    copied = {**manifest, "config": config.to_dict(), "seed": seed, "channels": list(plan.channels), "completed_scales": scale,
              "noise_amps": manifest["noise_amps"][:scale], "scales": manifest["scales"][:scale]}
    copied.pop("in_progress", None)
    model_store.write_json_atomic(target / model_store.MANIFEST, copied)
    return copied


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--scale", "scale", type=click.IntRange(1), required=True, help="The scale to train again.")
@click.option("--name", required=True, help="This arm's name in the results, e.g. s7-whole-image.")
@functools.partial(config_options, with_preset=False)
@click.option("--runs", "runs_dir", type=click.Path(path_type=Path), default=ROOT / "runs", show_default=True)
@click.option("--results", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
@click.option("--grids", type=click.Path(path_type=Path), default=GRIDS, show_default=True)
@click.option("--seed", "draw_seed", type=int, default=None,
              help="Scale N's own draws (noise, windows, penalty mixes) from this seed instead of the source's: "
                   "the spread of one setting at one scale. The copied scales stay as trained.")
@click.option("--as-trained", is_flag=True,
              help="Train nothing: evaluate the source's own scale N (the baseline the other arms are set beside).")
@click.option("--commit", is_flag=True, help="git commit the results line and the grid when the run is done.")
def main(source: Path, image: Path, scale: int, name: str, runs_dir: Path, results: Path, grids: Path,
         draw_seed: int | None, as_trained: bool, commit: bool, **settings) -> None:
    """Train scale SCALE of SOURCE's model again with other settings, evaluate it, record the figures."""
    from singan_tf.config import TrainConfig
    from singan_tf.errors import SinganError
    from singan_tf.fit import fit
    from singan_tf.model_store import read_manifest

    source_manifest = read_manifest(source)
    overrides = {k: v for k, v in config_overrides(settings).items() if v is not None}
    if as_trained and (overrides or draw_seed is not None):
        raise click.UsageError("--as-trained evaluates the source's own scale: it takes no setting flags")
    config = TrainConfig.from_dict(source_manifest["config"]).with_overrides(**overrides)
    seed = source_manifest["seed"] if draw_seed is None else draw_seed
    key = {"name": name, "image": image.name, "seed": seed, "scale": scale,
           "config": config.to_dict(), "as_trained": as_trained}
    if any({k: line.get(k) for k in key} == key for line in _measured(results)):
        click.echo(f"{name} on {image.name}, scale {scale}: already in {results}; skipped")
        return
    model_dir = runs_dir / name / f"{image.stem}-seed{seed}-scale{scale}"
    if not (model_dir / "manifest.json").exists():
        try:
            copy_below(source, model_dir, scale + 1 if as_trained else scale, config, image, seed)
        except SinganError as err:
            raise click.ClickException(str(err)) from None

    def stop(n: int, manifest: dict[str, Any]) -> None:
        if n == scale:
            raise _ScaleDone

    load_before, started = os.getloadavg(), time.perf_counter()
    try:
        if not as_trained:
            fit(image, model_dir, config, resume=True, on_scale_done=stop)
    except _ScaleDone:
        pass
    session_seconds = time.perf_counter() - started
    manifest = read_manifest(model_dir)
    grid = grids / f"{name}-{image.stem}-seed{seed}.png"
    line = {
        **key, "source": str(source), "overrides": overrides, "size": manifest["scale_sizes"][scale],
        "channels": manifest["channels"][scale], "niter": manifest["scales"][scale]["niter"],
        "wall_seconds": manifest["scales"][scale]["train_seconds"], "this_session_seconds": round(session_seconds, 1),
        "noise_amp": manifest["noise_amps"][scale], "load_average_before": load_before,
        **evaluate_and_draw(model_dir, grid),
    }
    record(line, results, f"scale run: {name} on {image.name}, scale {scale}" if commit else None,
           ("name", "scale", "wall_seconds", "from_0", "from_1"))


if __name__ == "__main__":
    main()
