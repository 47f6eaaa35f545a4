"""`train-many` on a local Ray instance with 2 CPUs: failures stay alone, re-runs skip and resume,
and a model is the one `train` would make.

One run of three images (one corrupt, two with the same name) is shared by the tests that only read
it; the resumed and the `train` models are compared with its weights.
"""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from singan_tf import model_store
from singan_tf.errors import SinganError
from singan_tf.image_io import load_image
from singan_tf.many.inputs import collect_images, image_seed, name_jobs
from singan_tf.many.ray_session import import_ray, start_local_ray

from conftest import DEMO_IMAGE
from test_cli import assert_one_line_error, run
from conftest import model_weights as weights

SEED = 11
SETTINGS = ["--preset", "tiny", "--iters", "4", "--seed", SEED]
KILL_TIMEOUT_SECONDS = 240


def assert_same_model(ours, theirs):
    assert model_store.read_manifest(ours)["noise_amps"] == model_store.read_manifest(theirs)["noise_amps"]
    for a, b in zip(weights(ours), weights(theirs), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def local_ray():
    """One Ray instance for the in-process runs; the command uses a connection it finds."""
    start_local_ray(num_cpus=2)
    yield
    import_ray().shutdown()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """first/bad.png (truncated), first/x.png, second/x.png (another picture with the same name)."""
    root = tmp_path_factory.mktemp("inputs")
    (root / "first").mkdir()
    (root / "second").mkdir()
    picture = Image.open(DEMO_IMAGE).convert("RGB")
    picture.save(root / "first" / "x.png")
    picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(root / "second" / "x.png")
    (root / "first" / "bad.png").write_bytes(DEMO_IMAGE.read_bytes()[:400])
    return root


@pytest.fixture(scope="module")
def first_run(local_ray, images, tmp_path_factory):
    base = tmp_path_factory.mktemp("batch") / "models"
    command = ["train-many", images / "first", images / "second" / "x.png", "--out", base, *SETTINGS]
    return command, base, run(*command)


def test_a_corrupt_image_fails_alone_and_the_others_are_trained(first_run, images):
    _, base, result = first_run
    assert_one_line_error(result, "1 of 3 images failed")
    assert f"{images / 'second' / 'x.png'} -> {base / 'x-2'}" in result.output

    summary = json.loads((base / "train-many.json").read_text())
    rows = {row["output"]: row for row in summary["images"]}
    assert list(rows) == [str(base / "bad"), str(base / "x"), str(base / "x-2")]
    with pytest.raises(SinganError) as reason:
        load_image((images / "first" / "bad.png").resolve())
    assert rows[str(base / "bad")]["state"] == "failed"
    assert rows[str(base / "bad")]["error"] == str(reason.value)
    assert summary["counts"]["done"] == 2 and summary["counts"]["failed"] == 1
    for name in ("x", "x-2"):
        manifest = model_store.read_manifest(base / name)
        row = rows[str(base / name)]
        assert manifest["completed_scales"] == len(manifest["scale_sizes"]) == row["scales_total"] >= 2
        assert manifest["seed"] == row["seed"] == image_seed(SEED, name)
        assert manifest["config"]["niter"] == 4
        assert (base / name / "samples" / "grid.png").is_file()
        assert any(line.split()[:3] == [str(images / ("first" if name == "x" else "second") / "x.png"),
                                        str(base / name), "done"] for line in result.output.splitlines())
    # Same name, different pictures: two different models.
    assert model_store.read_manifest(base / "x")["image"]["sha256"] != model_store.read_manifest(base / "x-2")["image"]["sha256"]


def test_a_re_run_skips_finished_models_without_starting_them(first_run, images):
    command, base, _ = first_run
    before = (base / "x" / "manifest.json").stat().st_mtime_ns
    result = run(*command)
    assert_one_line_error(result, "1 of 3 images failed")
    lines = result.output.splitlines()
    for name in ("x", "x-2"):
        assert f"{base / name}: skipped (already trained)" in lines
        assert not [line for line in lines if line.startswith(f"{base / name}: ") and "skipped" not in line]
    assert f"{base / 'bad'}: queued" in lines
    assert (base / "x" / "manifest.json").stat().st_mtime_ns == before
    states = [row["state"] for row in json.loads((base / "train-many.json").read_text())["images"]]
    assert states == ["failed", "skipped", "skipped"]


def _session_processes(session: int) -> set[int]:
    """Every process of the session (the command and the Ray instance it started)."""
    pids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
        if int(fields[3]) == session and fields[0] != "Z":
            pids.add(int(pid))
    return pids


def _wait_until_gone(session: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while _session_processes(session) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _session_processes(session), "Ray processes outlived the command"


def test_ctrl_c_after_the_first_scale_then_a_re_run_gives_the_uninterrupted_model(local_ray, images, tmp_path):
    """The command in its own session, Ctrl-C (SIGINT to the whole group, as a terminal sends it)
    once x has a finished scale but not all: no Ray process outlives it, and the same command
    resumes x to the weights of the uninterrupted run (same name, so the same seed). The scales get
    150 iterations, seconds each: with SETTINGS' 4, a fast host under load once finished the last
    scale before the interrupt reached the command."""
    settings = [*SETTINGS[:2], "--iters", "150", *SETTINGS[4:]]
    for attempt in range(3):
        base = tmp_path / f"models-{attempt}"
        command = ["train-many", images / "first" / "x.png", "--out", base, *settings]
        # As from a terminal: a shell starts background jobs (`make test &`) with SIGINT ignored, and
        # the command would inherit that and never see the Ctrl-C.
        process = subprocess.Popen([sys.executable, "-m", "singan_tf.cli.main", *map(str, command)],
                                   start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + KILL_TIMEOUT_SECONDS
        while not (base / "x" / "manifest.json").exists() or not model_store.read_manifest(base / "x")["completed_scales"]:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()[0]
            time.sleep(0.05)
        started = _session_processes(process.pid)
        manifest = model_store.read_manifest(base / "x")
        os.killpg(process.pid, signal.SIGINT)
        output = process.communicate(timeout=KILL_TIMEOUT_SECONDS)[0]
        # A loaded machine could delay this poll past the last scale: such an attempt tests nothing
        # and is made again; a signal lost while scales remain fails.
        if manifest["completed_scales"] < len(manifest["scale_sizes"]):
            break
    assert process.returncode == 130, output
    assert "run the same command again" in output.splitlines()[-1]
    manifest = model_store.read_manifest(base / "x")
    assert 1 <= manifest["completed_scales"] < len(manifest["scale_sizes"]), "interrupted too late to test resuming"
    assert len(started) > 3  # the command, Ray's servers and the task's worker
    _wait_until_gone(process.pid)

    result = run(*command)
    assert result.exit_code == 0, result.output
    assert f"{base / 'x'}: running (resuming after scale {manifest['completed_scales']}/" in result.output
    uninterrupted = tmp_path / "uninterrupted"
    assert run("train-many", images / "first" / "x.png", "--out", uninterrupted, *settings).exit_code == 0
    assert_same_model(base / "x", uninterrupted / "x")


def test_train_and_train_many_make_the_same_model_from_the_same_seed(first_run, images, tmp_path):
    """train-many ran x with 1 CPU, so TensorFlow used 1 intra-op thread: the thread count changes
    the bits (docs/training-many.md), so `train` gets the same count through TensorFlow's variables."""
    seed = model_store.read_manifest(first_run[1] / "x")["seed"]
    settings = [str(a) for a in SETTINGS[:-2]]
    subprocess.run(
        [sys.executable, "-m", "singan_tf.cli.main", "train", str(images / "first" / "x.png"), "--out",
         str(tmp_path / "x"), *settings, "--seed", str(seed), "--quiet"],
        check=True, capture_output=True, env={**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"},
    )
    assert_same_model(tmp_path / "x", first_run[1] / "x")


def test_user_errors_are_one_line_before_anything_runs(local_ray, images, tmp_path, monkeypatch):
    image = images / "first" / "x.png"
    assert_one_line_error(run("train-many", image, "--out", tmp_path, "--cpus-per-image", 3),
                          "--cpus-per-image 3: this machine has 2 CPUs")
    assert_one_line_error(run("train-many", tmp_path / "missing.png", "--out", tmp_path), "no such file")
    assert_one_line_error(run("train-many", tmp_path, "--out", tmp_path / "out"), "no image files")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    result = run("train-many", image, "--out", tmp_path)
    assert_one_line_error(result, 'train-many needs Ray: pip install "singan-tf[cluster]"')
    assert len(result.output.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_folders_give_their_images_sorted_and_clashing_names_get_suffixes_in_input_order(tmp_path):
    for path in ("a/x.png", "a/y.JPG", "a/notes.txt", "a/.hidden.png", "a/deeper/z.png", "b/x.jpg", "c/x-2.png",
                 "d/X.png"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"")
    images = collect_images([tmp_path / "a", tmp_path / "b" / "x.jpg", tmp_path / "a" / "x.png", tmp_path / "c" / "x-2.png",
                             tmp_path / "d" / "X.png", tmp_path / "a" / "notes.txt"])
    assert [p.relative_to(tmp_path).as_posix() for p in images] == [
        "a/x.png", "a/y.JPG", "b/x.jpg", "c/x-2.png", "d/X.png", "a/notes.txt"]
    jobs = name_jobs(images)
    assert [job.name for job in jobs] == ["x", "y", "x-2", "x-2-2", "X-3", "notes"]
    assert [job.renamed for job in jobs] == [False, False, True, True, True, False]


def test_image_seeds_follow_the_documented_formula_and_differ_between_images():
    digest = hashlib.sha256(b"11/x-2").digest()
    assert image_seed(11, "x-2") == int.from_bytes(digest[:8], "big") % 2**31
    seeds = {image_seed(s, n) for s in (0, 1) for n in ("x", "x-2", "y")}
    assert len(seeds) == 6 and all(0 <= s < 2**31 for s in seeds)
