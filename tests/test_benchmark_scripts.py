"""The experiment scripts under benchmarks/ that issue 18's results come from keep working."""

import json
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from singan_tf import model_store

from conftest import DEMO_IMAGE, model_weights

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import scale_runs  # noqa: E402


def test_a_scale_run_trains_only_the_chosen_scale_on_top_of_the_source_model(tiny_model, tmp_path):
    """The lever experiment's premise: the copied scales are the source's, bit for bit, and only
    the chosen scale is trained again, with the flags' settings (here 7 iterations and 12 px windows)."""
    results = tmp_path / "runs.jsonl"
    args = [str(tiny_model), str(DEMO_IMAGE), "--scale", "1", "--name", "arm", "--niter", "7", "--crop-size", "12",
            "--runs", str(tmp_path / "runs"), "--results", str(results), "--grids", str(tmp_path / "grids")]
    result = CliRunner().invoke(scale_runs.main, args)
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(text) for text in results.read_text().splitlines()]
    model_dir = tmp_path / "runs" / "arm" / f"{DEMO_IMAGE.stem}-seed{line['seed']}-scale1"
    manifest = model_store.read_manifest(model_dir)
    assert manifest["completed_scales"] == 2 and [s["niter"] for s in manifest["scales"]] == [20, 7]
    assert (line["scale"], line["niter"], line["config"]["crop_size"]) == (1, 7, 12)
    ours, source = model_weights(model_dir), model_weights(tiny_model)
    count = len(ours) // 2  # both scales have 8 channels: the first half is scale 0's networks
    for a, b in zip(ours[:count], source[:count]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(ours[count:], source[count:]))
    assert (tmp_path / "grids" / f"arm-{DEMO_IMAGE.stem}-seed{line['seed']}.png").exists()

    again = CliRunner().invoke(scale_runs.main, args)
    assert "already in" in again.output and len(results.read_text().splitlines()) == 1

    baseline = CliRunner().invoke(scale_runs.main, [*args[:5], "base", "--as-trained", *args[10:]])
    assert baseline.exit_code == 0, baseline.output
    line = json.loads(results.read_text().splitlines()[1])
    model_dir = tmp_path / "runs" / "base" / f"{DEMO_IMAGE.stem}-seed{line['seed']}-scale1"
    for a, b in zip(model_weights(model_dir), source):
        np.testing.assert_array_equal(a, b)
    assert line["as_trained"] and line["niter"] == 20


def test_a_scale_run_refuses_settings_that_change_the_scales_below(tiny_model, tmp_path):
    result = CliRunner().invoke(scale_runs.main, [str(tiny_model), str(DEMO_IMAGE), "--scale", "1", "--name", "arm",
                                                  "--max-size", "40", "--runs", str(tmp_path)])
    assert result.exit_code == 1 and "change the scales below" in result.output
