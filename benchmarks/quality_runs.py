"""One quality run of a training mode: train, evaluate from scales 0 and 1, keep a sample grid, and
append one JSON line to the results file. Every run of the fast-mode series goes through here, so
each line carries the same figures, and a finished run is never lost.

    python benchmarks/quality_runs.py IMAGE --name fast-96 --seed 1 [train flags] [--commit]

* The model goes to runs/NAME/<image stem>-seed<S>/; an interrupted run continues from its last
  checkpoint when the same command is given again (wall seconds include the time before the stop).
* A run whose line (name, image, seed, settings) is already in the results file is skipped.
* `--commit` commits the results line and the grid as soon as they are written.
* Wall time is only worth something on an otherwise idle machine: the line records the load
  average before and after, and the machine.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import click

from singan_tf.cli.main import import_tensorflow_quietly

import_tensorflow_quietly()

from singan_tf.cli.options import config_options, config_overrides  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "quality_runs.jsonl"
GRIDS = ROOT / "docs" / "images" / "quality"
EVAL_NUM = 50
GRID_SAMPLES = 4
EVAL_FIELDS = ("diversity", "coherence", "completeness", "reconstruction_rmse")


def _measured(results: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in results.read_text().splitlines() if line.strip()] if results.exists() else []


def _figures(report: dict[str, Any]) -> dict[str, float]:
    return {"patch_swd": report["patch_swd"]["mean"], **{k: report[k] for k in EVAL_FIELDS}}


def _machine() -> dict[str, Any]:
    from singan_tf.bench.reference_runs import this_machine

    cpu = this_machine()
    return {"cpu": cpu["name"], "family": cpu["family"], "model": cpu["model"], "cores": os.cpu_count(),
            "amx": "amx_bf16" in cpu["flags"], "avx512": "avx512f" in cpu["flags"]}


def _commit_id() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


def _grid(model_dir: Path, path: Path, seed: int) -> None:
    """The training image, its reconstruction, then samples from scale 0 and from scale 1."""
    import numpy as np

    from singan_tf.image_io import save_grid
    from singan_tf.model_store import load_pyramid, load_tensors
    from singan_tf.sampler import Sampler

    pyramid = load_pyramid(model_dir)
    sampler, (h, w) = Sampler(pyramid), pyramid.scale_sizes[-1]
    images = [load_tensors(model_dir, pyramid.num_scales - 1)["real"][0], pyramid.reconstruct()[0]]
    labels = ["real", "reconstruction"]
    for scale_from in (0, 1):
        images += [np.asarray(sampler(h, w, seed + i, scale_from)[0]) for i in range(GRID_SAMPLES)]
        labels += [f"from {scale_from}, seed {seed + i}" for i in range(GRID_SAMPLES)]
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(images, path, columns=2 + GRID_SAMPLES, labels=labels)


def evaluate_and_draw(model_dir: Path, grid: Path) -> dict[str, Any]:
    """A results line's figures: `EVAL_NUM` samples from scales 0 and 1, and the grid's path."""
    from singan_tf.evaluation import evaluate

    reports = {k: evaluate(model_dir, num=EVAL_NUM, scale_from=k, seed=0) for k in (0, 1)}
    _grid(model_dir, grid, seed=0)
    return {"from_0": _figures(reports[0]), "from_1": _figures(reports[1]), "eval_num": EVAL_NUM,
            "grid": str(grid.relative_to(ROOT)) if grid.is_relative_to(ROOT) else str(grid)}


def record(line: dict[str, Any], results: Path, commit_message: str | None, shown: tuple[str, ...]) -> None:
    """Append `line` with the machine, commit and time it was measured on; commit it and its grid at
    once when asked, so a finished run is never lost."""
    line = {**line, "load_average_after": os.getloadavg(), "machine": _machine(), "commit": _commit_id(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as f:
        f.write(json.dumps(line) + "\n")
    click.echo(json.dumps({k: line[k] for k in shown}))
    if commit_message:
        subprocess.run(["git", "add", str(results), str(ROOT / line["grid"])], cwd=ROOT, check=True)
        subprocess.run(["git", "commit", "-q", "-m", commit_message], cwd=ROOT, check=True)


@click.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="The mode's name in the results, e.g. paper-2000 or fast-96.")
@functools.partial(config_options, default_preset="paper")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--runs", "runs_dir", type=click.Path(path_type=Path), default=ROOT / "runs", show_default=True)
@click.option("--results", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
@click.option("--grids", type=click.Path(path_type=Path), default=GRIDS, show_default=True)
@click.option("--commit", is_flag=True, help="git commit the results line and the grid when the run is done.")
def main(image: Path, name: str, preset: str, seed: int, runs_dir: Path, results: Path, grids: Path, commit: bool,
         **settings) -> None:
    """Train IMAGE with a preset and flags, evaluate it and record the figures (one JSON line)."""
    from singan_tf.config import preset as make_config
    from singan_tf.model_store import read_manifest
    from singan_tf.train_image import train_image

    overrides = config_overrides(settings)
    config = make_config(preset, **overrides)
    key = {"name": name, "image": image.name, "seed": seed, "config": config.to_dict()}
    if any({k: line.get(k) for k in key} == key for line in _measured(results)):
        click.echo(f"{name} on {image.name}, seed {seed}: already in {results}; skipped")
        return
    model_dir = runs_dir / name / f"{image.stem}-seed{seed}"
    load_before, started = os.getloadavg(), time.perf_counter()
    train_image(image, model_dir, preset, overrides, seed=seed, resume=True)
    session_seconds = time.perf_counter() - started
    manifest = read_manifest(model_dir)
    grid = grids / f"{name}-{image.stem}-seed{seed}.png"
    line = {
        **key, "preset": preset, "overrides": {k: v for k, v in overrides.items() if v is not None},
        "scale_sizes": manifest["scale_sizes"], "noise_amps": manifest["noise_amps"],
        "wall_seconds_per_scale": [s["train_seconds"] for s in manifest["scales"]],
        "wall_seconds": sum(s["train_seconds"] for s in manifest["scales"]),
        "this_session_seconds": round(session_seconds, 1), "load_average_before": load_before,
        **evaluate_and_draw(model_dir, grid),
    }
    record(line, results, f"quality run: {name} on {image.name}, seed {seed}" if commit else None,
           ("name", "image", "seed", "wall_seconds", "from_0", "from_1"))

if __name__ == "__main__":
    main()
