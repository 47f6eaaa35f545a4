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


def test_a_scale_run_with_another_seed_draws_that_scale_anew(tiny_model, tmp_path):
    """--seed measures one setting's spread at one scale: the copied scales stay the source's, the
    scale trained again draws its noise and windows from the other seed."""
    args = [str(tiny_model), str(DEMO_IMAGE), "--scale", "1", "--niter", "7", "--runs", str(tmp_path / "runs"),
            "--results", str(tmp_path / "runs.jsonl"), "--grids", str(tmp_path / "grids")]
    for name, seed in (("source-seed", []), ("other-seed", ["--seed", "11"])):
        result = CliRunner().invoke(scale_runs.main, [*args, "--name", name, *seed])
        assert result.exit_code == 0, result.output
    lines = [json.loads(text) for text in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert lines[1]["seed"] == 11 and lines[0]["seed"] != 11
    weights = [model_weights(tmp_path / "runs" / line["name"] / f"{DEMO_IMAGE.stem}-seed{line['seed']}-scale1")
               for line in lines]
    count = len(weights[0]) // 2
    for a, b in zip(weights[0][:count], weights[1][:count]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(weights[0][count:], weights[1][count:]))


def test_the_last_scales_statistics_are_compared_stored_whole_and_window_averaged(tmp_path):
    """Row 3h's comparison: three copies that differ only in the last scale's BatchNorm statistics."""
    from singan_tf.config import preset
    from singan_tf.fit import fit

    import last_scale_statistics

    model = tmp_path / "cropped"
    fit(DEMO_IMAGE, model, preset("tiny", crop_size=16, niter=10), seed=3, progress=False)
    results = tmp_path / "statistics.jsonl"
    result = CliRunner().invoke(last_scale_statistics.main, [str(model), "--name", "tiny", "--work",
                                                             str(tmp_path / "work"), "--results", str(results)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(text) for text in results.read_text().splitlines()]
    assert [line["statistics"] for line in lines] == ["stored", "whole", "windows"]
    rmse = [line["from_0"]["reconstruction_rmse"] for line in lines]
    assert len(set(rmse)) == 3
    weights = {line["statistics"]: model_weights(tmp_path / "work" / f"tiny-{line['statistics']}") for line in lines}
    source = model_weights(model)
    for a, b in zip(weights["stored"], source):
        np.testing.assert_array_equal(a, b)
    scales = model_store.read_manifest(model)["completed_scales"]
    per_network = len(source) // (2 * scales)  # each scale: G's arrays, then D's
    last_generator = range((scales - 1) * 2 * per_network, (scales - 1) * 2 * per_network + per_network)
    for candidate in ("whole", "windows"):
        changed = {i for i, (a, b) in enumerate(zip(weights[candidate], source)) if not np.array_equal(a, b)}
        assert changed and changed <= set(last_generator)
    # The stored running averages are windows' statistics too (mostly the last few): the average of
    # 100 windows is of their size, layer by layer (mean and variance of the first BatchNorm).
    first_norm = [i for i in last_generator if weights["windows"][i].shape == (8,)][:4]  # gamma, beta, mean, var
    for i in first_norm[2:]:
        ratio = np.mean(np.abs(weights["windows"][i])) / np.mean(np.abs(source[i]))
        assert 0.7 < ratio < 1.4, (i, ratio)
