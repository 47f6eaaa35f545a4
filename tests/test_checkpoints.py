"""Checkpoints inside a scale: a run killed at any moment, even while it writes one, resumes to the
uninterrupted run's weights bit for bit; a resume that does not fit its checkpoint is refused."""

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from singan_tf import checkpoint, model_store, training
from singan_tf.cli.main import cli
from singan_tf.config import preset
from singan_tf.errors import SinganError
from singan_tf.fit import _Checkpoints, fit
from singan_tf.image_io import load_image
from singan_tf.pyramid import build_reals
from singan_tf.scale_plan import plan_scales
from singan_tf.training import ScaleTrainer

from conftest import DEMO_IMAGE, model_weights

SEED = 7
NITER = 40
SETTINGS = ["--preset", "tiny", "--niter", str(NITER), "--seed", str(SEED)]
# Checkpoints at every iteration, so a kill at a random moment lands between, or inside, writes.
EVERY_ITERATION = ["--checkpoint-minutes", "1e-6"]
WAIT_SECONDS = 240

# Runs `singan-tf ARGS...` and SIGKILLs itself in the middle of its Nth checkpoint write of scale S:
# half of the file's bytes are on disk, nothing is renamed yet.
DIE_WHILE_WRITING = """
import io, json, os, signal, sys
from singan_tf import checkpoint
from singan_tf.cli.main import main
serialize, calls, scale, die_at = checkpoint._serialize, [0], int(sys.argv[1]), int(sys.argv[2])

def dying(f, arrays):
    calls[0] += json.loads(str(arrays["meta"]))["scale"] == scale
    if calls[0] < die_at:
        return serialize(f, arrays)
    buffer = io.BytesIO()
    serialize(buffer, arrays)
    f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

checkpoint._serialize = dying
sys.argv = ["singan-tf"] + sys.argv[3:]
main()
"""


def _train_process(model_dir: Path, *extra: str, die_in_write: tuple[int, int] | None = None) -> subprocess.Popen:
    """`singan-tf train` in a process of its own; `die_in_write=(S, N)`: killed inside the Nth
    checkpoint write of scale S."""
    args = ["train", str(DEMO_IMAGE), *SETTINGS, "--out", str(model_dir), *extra]
    command = ([sys.executable, "-c", DIE_WHILE_WRITING, *map(str, die_in_write)] if die_in_write
               else [sys.executable, "-m", "singan_tf.cli.main"]) + args
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _in_progress(model_dir: Path) -> dict | None:
    path = model_dir / model_store.MANIFEST
    return json.loads(path.read_text()).get("in_progress") if path.exists() else None


def _kill_inside_scale(process: subprocess.Popen, model_dir: Path, rng: random.Random, scale: int) -> None:
    """SIGKILL at a random moment after the process wrote a checkpoint of `scale`."""
    deadline = time.monotonic() + WAIT_SECONDS

    def waiting() -> bool:
        running = _in_progress(model_dir)
        return running is None or running["scale"] != scale

    while waiting():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    time.sleep(rng.uniform(0, 1.0))
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "it finished before the kill; give it more iterations"


def test_sigkill_at_a_random_moment_then_mid_write_then_resume_gives_the_uninterrupted_weights(tmp_path, monkeypatch):
    """Killed at random inside scale 0, then the resumed run killed inside a checkpoint write of
    scale 1, then resumed to the end: the last run starts from a checkpoint a resumed run wrote."""
    reference = tmp_path / "uninterrupted"
    with monkeypatch.context() as patch:
        patch.setattr(checkpoint, "write_checkpoint", _refuse)  # --checkpoint-minutes 0 writes none
        fit(DEMO_IMAGE, reference, preset("tiny", niter=NITER), seed=SEED, progress=False, checkpoint_minutes=0)
    model_dir, rng = tmp_path / "killed", random.Random(16)

    _kill_inside_scale(_train_process(model_dir, *EVERY_ITERATION, "--quiet"), model_dir, rng, scale=0)
    killed_at = _in_progress(model_dir)

    dying = _train_process(model_dir, *EVERY_ITERATION, "--quiet", "--resume", die_in_write=(1, 3))
    assert dying.wait(WAIT_SECONDS) == -signal.SIGKILL, dying.communicate()[0]
    assert list(model_dir.glob(".checkpoint-*.partial")), "the kill did not land inside a write"
    meta, _ = checkpoint.read_checkpoint(model_dir)  # the previous checkpoint, whole
    resumed_at = _in_progress(model_dir)
    assert (meta["scale"], meta["iterations_done"]) == (resumed_at["scale"], resumed_at["iterations_done"])
    assert resumed_at["scale"] == 1 and resumed_at != killed_at  # written by the resumed run

    final = _train_process(model_dir, "--resume")
    output = final.communicate(timeout=WAIT_SECONDS)[0]
    assert final.returncode == 0, output
    assert f"scale 2/2: resumed at iteration {resumed_at['iterations_done']} of {NITER}" in output
    assert not (model_dir / checkpoint.CHECKPOINT).exists() and not list(model_dir.glob(".checkpoint-*"))
    assert _in_progress(model_dir) is None

    ours, theirs = model_weights(model_dir), model_weights(reference)
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    for n in range(2):
        for name, array in model_store.load_tensors(reference, n).items():
            np.testing.assert_array_equal(model_store.load_tensors(model_dir, n)[name], array)
    ours, theirs = model_store.read_manifest(model_dir), model_store.read_manifest(reference)
    assert ours["noise_amps"] == theirs["noise_amps"] and ours["completed_scales"] == 2


def _refuse(*args, **kwargs):
    raise AssertionError("a checkpoint was written")


@pytest.fixture(scope="module")
def scale_1(interrupted_model):
    """The interrupted model's frozen scale 0 and the image at scale 1, to train scale 1 on."""
    plan = plan_scales(*load_image(DEMO_IMAGE).shape[:2], preset("tiny"))
    return model_store.load_pyramid(interrupted_model), build_reals(load_image(DEMO_IMAGE), plan)[1]


def _values(variables: dict[str, list]) -> list[np.ndarray]:
    return [v.numpy() for group in variables.values() for v in group]


@pytest.mark.parametrize("policy, settings", [
    (None, {}), ("mixed_bfloat16", {"crop_size": 16}), ("mixed_float16", {}),
], ids=["float32", "bfloat16-crop", "float16-loss-scaling"])
def test_the_checkpoint_holds_everything_the_next_iterations_read(scale_1, tmp_path, monkeypatch, policy, settings):
    """Iterations 6..12 after restoring the state at 6 repeat exactly: in float32, in bfloat16 with
    crop windows, and in float16 with its loss scale (both 16-bit modes forced, whatever this
    machine would pick); restoring the networks without the optimizers does not, so the test sees
    a missing piece of state."""
    monkeypatch.setattr(training, "mixed_policy", lambda: policy)
    coarser, real = scale_1
    config = preset("tiny", niter=12, mixed_precision=policy is not None, **settings)
    trainer = ScaleTrainer(1, real, coarser, config, seed=SEED)
    for i in range(6):
        trainer.iteration(tf.constant(i))
    checkpoint.write_checkpoint(tmp_path, trainer.state, {"scale": 1})
    meta, arrays = checkpoint.read_checkpoint(tmp_path)

    def rest() -> list[np.ndarray]:
        for i in range(6, 12):
            trainer.iteration(tf.constant(i))
        return _values(trainer.state)

    uninterrupted = rest()
    checkpoint.restore_variables(tmp_path, trainer.state, meta, arrays)
    for a, b in zip(rest(), uninterrupted):
        np.testing.assert_array_equal(a, b)
    networks = {k: trainer.state[k] for k in ("generator", "discriminator")}
    checkpoint.restore_variables(tmp_path, networks, {**meta, "paths": {k: meta["paths"][k] for k in networks}},
                                 arrays)
    assert not all(np.array_equal(a, b) for a, b in zip(rest(), uninterrupted))


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """`singan-tf train` stopped by Ctrl-C in scale 1 right after its third checkpoint: the model
    folder (read-only) and what the command printed."""
    model_dir = tmp_path_factory.mktemp("interrupted") / "balloons"
    write, calls = _Checkpoints.write, []

    def interrupt_after_third(self, *args):
        write(self, *args)
        calls.append(self.trainer.scale)
        if calls.count(1) == 3:
            raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Checkpoints, "write", interrupt_after_third)
        result = _run("train", DEMO_IMAGE, *SETTINGS, "--out", model_dir, "--quiet", *EVERY_ITERATION)
    assert result.exit_code == 130, result.output
    return model_dir, result.output


@pytest.fixture(scope="module")
def interrupted_model(interrupted):
    return interrupted[0]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _copy(model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(model_dir, tmp_path / "model"))


def test_the_manifest_says_which_scale_is_in_progress(interrupted_model):
    manifest = model_store.read_manifest(interrupted_model)
    meta, _ = checkpoint.read_checkpoint(interrupted_model)
    assert manifest["completed_scales"] == 1
    assert manifest["in_progress"] == {"scale": 1, "iterations_done": meta["iterations_done"], "niter": NITER,
                                       "checkpoint": "checkpoint.npz"}
    assert meta["scale"] == 1 and meta["seed"] == SEED and meta["format"] == checkpoint.CHECKPOINT_FORMAT


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _one_line_error(result, pattern: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error:") and pattern in lines[-1], result.output


def _tamper(model_dir: Path, **meta_changes) -> None:
    with np.load(model_dir / checkpoint.CHECKPOINT, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, **meta_changes}))
    np.savez(model_dir / checkpoint.CHECKPOINT, **arrays)


@pytest.mark.parametrize("case, flags, message", [
    ("other settings", ["--niter", "30"],
     f"--resume with different settings (niter: the model has {NITER}, now 30); resume with --niter {NITER}"),
    ("a preset's new default", ["--mixed-precision"],
     "(mixed_precision: the model has False, now True); resume with --no-mixed-precision"),
    ("other seed", ["--seed", "8"], "--resume with a different --seed"),
    ("another run's checkpoint", ["--seed", str(SEED)], "written by another run (seed differ"),
    ("another format", ["--seed", str(SEED)], "checkpoint format 99"),
    ("truncated", ["--seed", str(SEED)], "cannot read"),
])
def test_a_resume_that_does_not_fit_is_a_one_line_error_and_writes_nothing(interrupted_model, tmp_path, case, flags,
                                                                          message):
    model_dir = _copy(interrupted_model, tmp_path)
    if case == "another run's checkpoint":
        _tamper(model_dir, seed=SEED + 1)
    elif case == "another format":
        _tamper(model_dir, format=99)
    elif case == "truncated":
        path = model_dir / checkpoint.CHECKPOINT
        path.write_bytes(path.read_bytes()[:1000])
    before = _files(model_dir)
    result = _run("train", DEMO_IMAGE, "--preset", "tiny", "--niter", NITER, *flags, "--out", model_dir, "--resume")
    _one_line_error(result, message)
    assert _files(model_dir) == before


def test_a_checkpoint_of_a_saved_scale_is_a_leftover_and_goes(interrupted_model, scale_1, tmp_path):
    """Killed after a scale was saved but before its checkpoint was removed: the next scale starts
    from its first iteration, and the leftover goes."""
    model_dir = _copy(interrupted_model, tmp_path)
    _tamper(model_dir, scale=0)
    coarser, real = scale_1
    trainer = ScaleTrainer(1, real, coarser, preset("tiny", niter=NITER), seed=SEED)
    checkpoints = _Checkpoints(model_dir, model_store.read_manifest(model_dir), trainer, minutes=0)
    assert checkpoints.resume_point() == (0, 0.0)
    assert not (model_dir / checkpoint.CHECKPOINT).exists()


def test_sample_uses_the_finished_scales_of_an_unfinished_model_and_says_so(interrupted_model, tmp_path):
    result = CliRunner().invoke(cli, ["sample", str(interrupted_model), "--num", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "has 1 of 2 scales trained; scale 1 is in training, at iteration" in result.output
    size = model_store.read_manifest(interrupted_model)["scale_sizes"][0]
    assert np.asarray(load_image(tmp_path / "seed_000000.png")).shape[:2] == tuple(size)


def test_ctrl_c_says_how_far_the_scale_in_progress_is_kept(interrupted):
    model_dir, output = interrupted
    done = model_store.read_manifest(model_dir)["in_progress"]["iterations_done"]
    assert f"1 finished scale is saved in {model_dir}, and scale 1 up to iteration {done};" in output
    assert f"--out {model_dir} --resume" in output


@pytest.mark.parametrize("small_scales, frozen_dtype", [(False, "bfloat16"), (True, "float32")],
                         ids=["16-bit", "small-scale-float32"])
def test_a_resumed_16bit_run_runs_its_frozen_scales_in_their_own_precision(interrupted_model, tmp_path, monkeypatch,
                                                                           small_scales, frozen_dtype):
    """The uninterrupted run samples its coarser scales with the generators it trained, whose
    convolutions ran in 16 bits, or in float32 at the small scales (`TrainConfig.sixteen_bits`); a
    resumed run loads them from disk, and must build each with its own policy, or its training inputs
    (and so its weights) differ from then on."""
    model_dir = _copy(interrupted_model, tmp_path)
    manifest = model_store.read_manifest(model_dir)
    h0, w0 = manifest["scale_sizes"][0]
    settings = {"mixed_precision": True}
    if small_scales:  # scale 0 small, scale 1 not; the same iterations as the run trained
        settings |= {"small_niter": NITER, "small_max_pixels": h0 * w0}
    manifest["config"].update(settings)
    model_store.write_json_atomic(model_dir / model_store.MANIFEST, manifest)
    monkeypatch.setattr(training, "mixed_policy", lambda: "mixed_bfloat16")
    seen = []

    def record(self, scale, real, coarser, config, *args, **kwargs):
        seen.append((coarser.generators[0].blocks[1].conv.compute_dtype, training.conv_dtype(config, *real.shape[1:3])))
        raise KeyboardInterrupt

    monkeypatch.setattr(ScaleTrainer, "__init__", record)
    with pytest.raises(KeyboardInterrupt):
        fit(DEMO_IMAGE, model_dir, preset("tiny", niter=NITER, **settings), resume=True, progress=False)
    assert seen == [(frozen_dtype, "mixed_bfloat16")]


def test_restoring_into_other_networks_is_refused(tmp_path, scale_1):
    coarser, real = scale_1
    small = ScaleTrainer(1, real, coarser, preset("tiny"), seed=SEED)
    checkpoint.write_checkpoint(tmp_path, small.state, {"scale": 1})
    meta, arrays = checkpoint.read_checkpoint(tmp_path)
    narrower = ScaleTrainer(1, real, coarser, preset("tiny", nfc=4, max_nfc=4), seed=SEED)
    with pytest.raises(SinganError, match="other networks"):
        checkpoint.restore_variables(tmp_path, {"generator": narrower.state["generator"]}, meta, arrays)
