"""Every command through click's runner: what users type, what they get, and one-line errors."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from singan_tf.cli.main import COMMANDS, cli
from singan_tf.config import preset
from singan_tf.scale_plan import plan_scales


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def assert_one_line_error(result, pattern):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error:") and pattern in lines[-1], result.output


@pytest.mark.filterwarnings("error")  # click warns, and then ignores one, when two options share a flag
@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_examples(name):
    result = run(name.replace("_", "-"), "--help")
    assert result.exit_code == 0 and "singan-tf" in result.output


def test_plan_prints_the_official_pyramid(demo_image):
    result = run("plan", demo_image)
    assert result.exit_code == 0, result.output
    for h, w in plan_scales(186, 248, preset("paper")).scale_sizes:
        assert f"{h}x{w}" in result.output
    report = json.loads(run("plan", demo_image, "--json", "--preset", "paper", "--max-size", 120).output)
    expected = plan_scales(186, 248, preset("paper", max_size=120))
    assert [(s["height"], s["width"]) for s in report["scales"]] == list(expected.scale_sizes)
    assert report["scale_factor"] == pytest.approx(expected.scale_factor)
    assert [s["niter"] for s in report["scales"]] == [2000] * expected.num_scales


def test_plan_counts_each_scales_own_iterations(demo_image):
    """--small-niter: 2000 iterations where the scale has at most 5000 pixels, --niter 1000 above."""
    settings = ["--max-size", 96, "--niter", 1000, "--small-niter", 2000, "--small-max-pixels", 5000]
    report = json.loads(run("plan", demo_image, "--json", *settings).output)
    scales = report["scales"]
    assert [s["niter"] for s in scales] == [2000 if s["height"] * s["width"] <= 5000 else 1000 for s in scales]
    assert {s["niter"] for s in scales} == {1000, 2000}
    assert report["total_tflop"] == pytest.approx(sum(s["gflop_per_iter"] * s["niter"] for s in scales) / 1e3)
    assert "for 9000 iterations" in run("plan", demo_image, *settings).output


def _write_16bit_gray(path, h=40, w=54):
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 60000, w)[None, :] + rng.normal(0, 3000, (h, w))
    Image.fromarray(np.clip(ramp, 0, 65535).astype(np.uint16)).save(path)


def test_train_a_16bit_grayscale_png_with_tensorboard_logs_then_sample_it(tmp_path, caplog):
    """Five scales of three iterations, a preview per scale, then the samples: TensorFlow's warning
    about functions traced over and over came from the fifth Sampler and from short scales."""
    image, logs = tmp_path / "gray16.png", tmp_path / "tb"
    _write_16bit_gray(image)
    assert Image.open(image).mode.startswith("I;16")
    model = tmp_path / "model"
    result = run("train", image, "--out", model, "--preset", "tiny", "--iters", 3, "--seed", 1, "--min-size", 11,
                 "--quiet", "--tensorboard", logs)
    assert result.exit_code == 0, result.output
    assert not [r.getMessage() for r in caplog.records if r.name == "tensorflow"]
    import tensorflow as tf

    tags = set()
    for event_file in logs.iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags |= {value.tag for value in event.summary.value}
    assert {"scale_00/rec", "scale_04/d_loss", "preview"} <= tags
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["completed_scales"] == len(manifest["scale_sizes"]) == 5
    assert manifest["config"]["niter"] == 3 and manifest["seed"] == 1
    assert (model / "samples" / "grid.png").is_file()

    # Nothing already written is lost: training into a finished model without --resume is refused.
    before = (model / "manifest.json").read_bytes()
    assert_one_line_error(run("train", image, "--out", model, "--preset", "tiny"), "--resume")
    assert (model / "manifest.json").read_bytes() == before
    assert_one_line_error(run("train", image, "--out", model, "--resume", "--iters", 9, "--min-size", 11), "niter")


def test_sample_writes_pngs_named_by_seed_and_a_grid(tiny_model, tmp_path):
    result = run("sample", tiny_model, "--num", 3, "--seed", 5, "--out", tmp_path / "a")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["grid.png", "seed_000005.png", "seed_000006.png", "seed_000007.png"]
    # Image i of a run with seed S is the image of seed S+i.
    assert run("sample", tiny_model, "--num", 1, "--seed", 6, "--out", tmp_path / "b").exit_code == 0
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "a" / "seed_000006.png")), np.asarray(Image.open(tmp_path / "b" / "seed_000006.png"))
    )


@pytest.mark.parametrize(
    "flags,size",
    [(["--height", 30, "--width", 70], (30, 70)), (["--scale-h", 2], (24, 64)), (["--scale-v", 1.5], (36, 32)),
     (["--scale-from", 1], (24, 32)), (["--scale-from", 1, "--scale-h", 2], (24, 64)),
     (["--scale-from", 1, "--height", 50, "--width", 20, "--noise-scale", 2], (50, 20))],
)
def test_sample_sizes_and_scale_from(tiny_model, tmp_path, flags, size):
    result = run("sample", tiny_model, "--num", 1, "--out", tmp_path, *flags)
    assert result.exit_code == 0, result.output
    assert np.asarray(Image.open(tmp_path / "seed_000000.png")).shape == (*size, 3)


def test_default_output_folders_are_derived_from_names(tiny_model, tmp_path):
    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    assert run("sample", model, "--num", 1, "--scale-from", 1).exit_code == 0
    assert (model / "samples" / "scale_from=1_v1_h1" / "grid.png").is_file()
    assert run("sample", model, "--num", 1, "--scale-h", 2, "--noise-scale", 1.5).exit_code == 0
    assert (model / "samples" / "scale_from=0_v1_h2_noise_scale=1.5" / "grid.png").is_file()


@pytest.mark.parametrize(
    "flags,message",
    [(["--height", 0], "Invalid value"), (["--width", 1000], "outside"), (["--scale-from", 9], "scale_from"),
     (["--height", 30, "--scale-h", 2], "not both"), (["--noise-scale", 5], "noise_scale 5 is outside 0..4"),
     (["--scale-from", 1, "--noise-scale", -0.5], "noise_scale -0.5 is outside 0..4"),
     (["--noise-scale", "nan"], "noise_scale nan is outside")],
)
def test_bad_sample_requests_are_one_line_errors(tiny_model, flags, message):
    assert_one_line_error(run("sample", tiny_model, *flags), message)


def test_noise_scale_limit_is_in_the_help():
    for command in ("sample", "eval", "client"):
        assert "0..4" in run(command, "--help").output


def _truncated(path):
    full = path.with_name("full.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(full)
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])


@pytest.mark.parametrize("case", ["missing", "text", "truncated", "tiny", "directory"])
def test_bad_images_are_one_line_errors(tmp_path, case):
    path = tmp_path / "input.png"
    if case == "text":
        path.write_text("not an image")
    elif case == "truncated":
        _truncated(path)
    elif case == "tiny":
        Image.new("RGB", (12, 10)).save(path)
    elif case == "directory":
        path.mkdir()
    for command in (["plan", path], ["train", path, "--preset", "tiny", "--out", tmp_path / "m"]):
        result = run(*command)
        assert_one_line_error(result, "too small" if case == "tiny" else "input.png")
    assert not (tmp_path / "m" / "manifest.json").exists()


def test_images_over_pillows_pixel_limit_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert_one_line_error(run("plan", path), "big.png")


def test_not_a_model_folder(tmp_path):
    assert_one_line_error(run("sample", tmp_path), "not a singan-tf model folder")


def test_ctrl_c_during_training_says_how_to_resume(tmp_path, demo_image, monkeypatch):
    import singan_tf.train_image

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(singan_tf.train_image, "fit", interrupted)
    result = run("train", demo_image, "--out", tmp_path / "m", "--preset", "tiny")
    assert result.exit_code == 130 and "--resume" in result.output


@pytest.fixture
def timed(monkeypatch) -> dict:
    """What `bench` would time (config, scales, iters), recorded instead of run."""
    import singan_tf.bench.timing

    recorded = {}

    def record(image, config, scales, iters, sampling, log):
        recorded.update(config=config, scales=scales, iters=iters)
        return {}

    monkeypatch.setattr(singan_tf.bench.timing, "run_benchmark", record)
    monkeypatch.setattr(singan_tf.bench.timing, "markdown_table", lambda report: "")
    return recorded


def test_bench_times_any_training_mode_from_train_flags(demo_image, timed):
    """`bench` takes `train`'s setting flags, so a faster mode (crops, channels, mixed precision) is
    timed with the settings it will train with."""
    result = run("bench", demo_image, "--preset", "tiny", "--crop-size", 16, "--max-nfc", 8, "--mixed-precision",
                 "--niter", 500, "--scales", "all", "--iters", 2)
    assert result.exit_code == 0, result.output
    assert (timed["scales"], timed["iters"]) == ("all", 2)
    assert timed["config"] == preset("tiny", crop_size=16, max_nfc=8, mixed_precision=True, niter=500)


def test_training_defaults_to_the_fast_preset_and_bench_to_the_paper_one(demo_image, timed):
    """`train`, `plan` and `train-many` start from the fast preset (paper-level samples in a tenth of
    the time, docs/benchmarks.md); `bench` from the paper one, the only one its official figures fit."""
    from singan_tf.cli import plan, train, train_many

    for command in (train.command, plan.command, train_many.command):
        assert next(p for p in command.params if p.name == "preset").default == "fast"
    scales = json.loads(run("plan", demo_image, "--json").output)["scales"]
    assert [s["niter"] for s in scales] == [preset("fast").iterations(s["height"], s["width"]) for s in scales]
    assert [s["niter"] for s in scales] == [2000] * 4 + [600] * 5  # balloons: 9 scales, 5 above 5000 px

    assert run("bench", demo_image).exit_code == 0
    assert timed["config"] == preset("paper")


def test_app_without_gradio_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio -> ImportError
    assert_one_line_error(run("app", "--port", 7999), "pip install 'singan-tf[app]'")


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("0.0.0.0", False), ("192.168.1.5", False), ("example.org", False)])
def test_only_loopback_hosts_keep_the_app_on_this_machine(host, loopback):
    from singan_tf.app.server import is_loopback

    assert is_loopback(host) is loopback
