"""The web app at the API level, through Gradio's own client: the page's buttons give the command
line's pixels and messages, and a crash in training leaves the server serving and the model resumable."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import socket
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from conftest import DEMO_IMAGE, TINY_SEED
from singan_tf.app.jobs import PROCESS_PREFIX, TrainingJob, exit_message

gradio_client = pytest.importorskip("gradio_client")
pytest.importorskip("gradio")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pixels(path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))


def cli(*args):
    from click.testing import CliRunner

    from singan_tf.cli.main import cli as command

    return CliRunner().invoke(command, [str(a) for a in args])


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from singan_tf.app.server import serve

    models = tmp_path_factory.mktemp("app") / "models"
    port = free_port()
    page = serve(models, "127.0.0.1", port, block=False)
    client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False)
    yield SimpleNamespace(models=models, client=client, url=f"http://127.0.0.1:{port}/")
    page.close()


@pytest.fixture(scope="module")
def trained(app, tmp_path_factory) -> Path:
    """The demo image trained with the tiny preset through the Train button's endpoint."""
    upload = tmp_path_factory.mktemp("upload") / "balloons.png"
    shutil.copyfile(DEMO_IMAGE, upload)
    status, previews, *pickers = app.client.predict(
        gradio_client.handle_file(str(upload)), "tiny", TINY_SEED, "", api_name="/train")
    assert status.startswith("done, 2 scales"), status
    assert len(previews) == 2
    assert all(picker["value"] == "balloons" for picker in pickers)
    return app.models / "balloons"


def test_sample_gives_the_pixels_of_singan_tf_sample(app, trained, tmp_path):
    gallery, archive = app.client.predict("balloons", 3, 5, 1, 1.0, None, None, api_name="/sample")
    assert cli("sample", trained, "--num", 3, "--seed", 5, "--scale-from", 1, "--out", tmp_path).exit_code == 0
    expected = [tmp_path / f"seed_{s:06d}.png" for s in (5, 6, 7)]
    assert len(gallery) == 3
    for shown, written in zip(gallery, expected):
        np.testing.assert_array_equal(pixels(shown["image"]), pixels(written))
    with zipfile.ZipFile(archive) as bundle:
        assert bundle.namelist() == [p.name for p in expected]
    wide = app.client.predict("balloons", 1, 5, 0, 1.0, 30, 64, api_name="/sample")[0]
    assert pixels(wide[0]["image"]).shape == (30, 64, 3)


def test_harmonize_with_a_drawn_stroke_is_singan_tf_harmonize_with_that_mask(app, trained, tmp_path):
    real = pixels(trained / "scale_01" / "preview.png")  # any picture of the training size would do
    height, width = json.loads((trained / "manifest.json").read_text())["scale_sizes"][-1]
    naive = np.array(Image.fromarray(real).resize((width, height)))
    naive[8:16, 10:20] = [250, 20, 20]
    stroke = np.zeros((height, width, 4), np.uint8)
    stroke[6:18, 8:22] = [255, 0, 255, 255]
    Image.fromarray(naive).save(tmp_path / "naive.png")
    Image.fromarray(stroke).save(tmp_path / "stroke.png")
    Image.fromarray(np.where(stroke[..., 3] > 0, 255, 0).astype(np.uint8)).save(tmp_path / "mask.png")
    editor = {"background": gradio_client.handle_file(str(tmp_path / "naive.png")),
              "layers": [gradio_client.handle_file(str(tmp_path / "stroke.png"))],
              "composite": gradio_client.handle_file(str(tmp_path / "naive.png"))}

    shown = app.client.predict("balloons", "harmonize", editor, 1, 0, api_name="/harmonize")
    result = cli("harmonize", trained, tmp_path / "naive.png", "--mask", tmp_path / "mask.png",
                 "--injection-scale", 1, "--out", tmp_path / "cli")
    assert result.exit_code == 0, result.output
    assert [item["caption"] for item in shown] == ["scale 1"]
    np.testing.assert_array_equal(pixels(shown[0]["image"]), pixels(tmp_path / "cli" / "start_scale=1.png"))

    editor["layers"] = []
    with pytest.raises(gradio_client.exceptions.AppError, match="the mask is empty"):
        app.client.predict("balloons", "harmonize", editor, 1, 0, api_name="/harmonize")


@pytest.mark.parametrize("case", ["truncated", "text", "too small"])
def test_a_bad_upload_gets_the_command_lines_message(app, tmp_path, monkeypatch, case):
    bad = tmp_path / "cut.png"
    if case == "truncated":
        whole = DEMO_IMAGE.read_bytes()
        bad.write_bytes(whole[: len(whole) // 2])
    elif case == "text":
        bad.write_text("not an image")
    else:
        Image.new("RGB", (12, 10)).save(bad)
    monkeypatch.chdir(tmp_path)
    message = cli("train", "cut.png", "--preset", "tiny").output.strip().splitlines()[-1].removeprefix("Error: ")
    with pytest.raises(gradio_client.exceptions.AppError) as raised:
        app.client.predict(gradio_client.handle_file(str(bad)), "tiny", 0, "", api_name="/train")
    assert str(raised.value) == message
    with pytest.raises(gradio_client.exceptions.AppError, match=message.split(":")[0]):
        app.client.predict(gradio_client.handle_file(str(bad)), "tiny", api_name="/check")
    assert not (app.models / "cut" / "manifest.json").exists()
    assert app.client.predict(gradio_client.handle_file(str(DEMO_IMAGE)), "tiny", api_name="/check")[1] == \
        "balloons.png: 186x248 px, ready to train"


def _training_process(timeout: float = 60) -> multiprocessing.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in multiprocessing.active_children() if p.name.startswith(PROCESS_PREFIX)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no training process started")


def test_a_killed_training_fails_alone_and_resumes_from_its_finished_scales(app):
    job = app.client.submit(gradio_client.handle_file(str(DEMO_IMAGE)), "tiny", 3, "crash", api_name="/train")
    process = _training_process()
    manifest = app.models / "crash" / "manifest.json"
    deadline = time.monotonic() + 120
    while not (manifest.exists() and json.loads(manifest.read_text())["completed_scales"] == 1):
        assert time.monotonic() < deadline and process.is_alive(), "scale 0 did not finish"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    status = job.result()[0]
    assert status == "failed: " + exit_message(-signal.SIGKILL), status
    first_scale = json.loads(manifest.read_text())["scales"][0]

    status = app.client.predict(None, "tiny", 3, "crash", api_name="/train")[0]  # the kept upload, no new one
    assert status.startswith("done, 2 scales"), status
    resumed = json.loads(manifest.read_text())
    assert resumed["completed_scales"] == 2 and resumed["scales"][0] == first_scale


def test_time_left_comes_from_the_rate_so_far_and_the_cost_still_to_run():
    job = TrainingJob("m", Path("i.png"), Path("m"), "tiny", 0, False, scale_niter=[100, 100], scale_gflop=[10.0, 30.0])
    assert job.seconds_left() is None and job.status() == "starting"
    job.state = "running"  # as the queue sets it when the process starts
    job.record(("progress", 0, 50, {"d_loss": 1.0}), now=100.0)
    job.record(("scale_done", 0, "p0.png"), now=101.0)
    job.record(("progress", 1, 10, {"d_loss": 0.5}), now=110.0)
    # from 5 to 10 + 3 GFLOP in 10 s; 40 - 13 = 27 GFLOP remain at 0.8 GFLOP/s
    assert job.seconds_left() == pytest.approx(33.75)
    assert job.status() == "scale 2/2, iteration 10/100 - d_loss 0.5000 - about 34 s left"
    job.record(("error", "training diverged"))
    assert job.status() == "failed: training diverged"
    assert "killed by signal 9 (SIGKILL)" in exit_message(-9) and "exit code 3" in exit_message(3)
