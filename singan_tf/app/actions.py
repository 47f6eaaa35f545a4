"""What the web app's buttons do, as plain functions on a models folder: no Gradio in here.

Each one goes through the same library call as its command (`singan_tf.api`, `save_samples`,
`InjectionResult.save`, the exporters), so the page's pictures are the command line's pixels, and
the tests can check them without a browser. Files are written inside the models folder, the only
folder the server serves.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from singan_tf.api import SinGAN, load
from singan_tf.app.jobs import TrainingJob
from singan_tf.applications.common import InjectionResult
from singan_tf.applications.paint import kmeans, nearest_centre
from singan_tf.cli.sample import default_out_dir
from singan_tf.config import TrainConfig
from singan_tf.cost import describe_plan
from singan_tf.errors import SinganError
from singan_tf.export.tflite import limits_path, tflite_path
from singan_tf.image_io import load_image
from singan_tf.model_store import MANIFEST, read_manifest, scale_dir
from singan_tf.sample_files import save_samples
from singan_tf.scale_plan import plan_scales
from singan_tf.train_image import training_config

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
UPLOADS = ".uploads"
APP_OUTPUTS = "app"
PALETTE_SIZE = 5
INJECTION_MODES = ("harmonize", "edit")


def model_name_for(upload: str | Path) -> str:
    """A model name from an uploaded file's name: its stem with anything unusual replaced."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(upload).stem).strip("-.") or "model"
    return stem[:64]


def check_upload(upload: str | Path, config: TrainConfig) -> tuple[int, int]:
    """(height, width) of an uploaded image that these settings can train, or the command line's
    one-line SinganError, naming the file as the user named it rather than by its temporary path."""
    upload = Path(upload)
    try:
        image = load_image(upload)
        plan_scales(image.shape[0], image.shape[1], config)
    except SinganError as err:
        raise SinganError(str(err).replace(str(upload), upload.name)) from None
    return image.shape[0], image.shape[1]


class ModelShelf:
    """The models folder: its model folders by name, opened models cached until they change."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._opened: dict[str, tuple[int, SinGAN]] = {}

    def names(self) -> list[str]:
        """Models with at least one finished scale, the ones that can sample."""
        found = []
        for manifest in sorted(self.root.glob(f"*/{MANIFEST}")):
            try:
                if read_manifest(manifest.parent)["completed_scales"] > 0:
                    found.append(manifest.parent.name)
            except SinganError:
                continue
        return found

    def folder(self, name: str) -> Path:
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise SinganError(f"model name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                              "starting with a letter or digit")
        return self.root / name

    def open(self, name: str) -> SinGAN:
        """The model, re-read when its manifest changed (a scale finished since)."""
        folder = self.folder(name)
        if not (folder / MANIFEST).exists():
            raise SinganError(f"there is no model {name!r} in {self.root}; train one first")
        stamp = (folder / MANIFEST).stat().st_mtime_ns
        cached = self._opened.get(name)
        if cached is None or cached[0] != stamp:
            cached = (stamp, load(folder, note=lambda message: None))
            self._opened[name] = cached
        return cached[1]

    def keep_upload(self, name: str, upload: str | Path) -> Path:
        """A copy of the training image beside the models, under its own file name (the manifest
        records it), so an interrupted model resumes without uploading it again."""
        kept = self.root / UPLOADS / name / Path(upload).name
        if kept.exists() and kept.read_bytes() == Path(upload).read_bytes():
            return kept
        if kept.parent.exists():
            shutil.rmtree(kept.parent)
        kept.parent.mkdir(parents=True)
        shutil.copyfile(upload, kept)
        return kept

    def kept_upload(self, name: str) -> Path | None:
        kept = sorted((self.root / UPLOADS / name).glob("*")) if (self.root / UPLOADS / name).is_dir() else []
        return kept[0] if kept else None

    def training_job(self, name: str, upload: str | Path | None, preset: str, seed: int | None) -> TrainingJob:
        """The job for the Train button: a new model from an upload, or the model of that name
        continued (from its kept image when nothing is uploaded)."""
        model_dir = self.folder(name)
        resume = (model_dir / MANIFEST).exists()
        if upload is None:
            upload = self.kept_upload(name)
            if upload is None:
                raise SinganError("upload an image to train (or pick the bundled one)")
        config = training_config(model_dir, preset, {}, resume)
        height, width = check_upload(upload, config)
        image = self.keep_upload(name, upload)
        cost = describe_plan((height, width), config)
        done = read_manifest(model_dir)["completed_scales"] if resume else 0
        return TrainingJob(
            name=name, image=image, model_dir=model_dir, preset=preset, seed=seed, resume=resume,
            scale_niter=[s["niter"] for s in cost["scales"]],
            scale_gflop=[s["gflop_per_iter"] * s["niter"] for s in cost["scales"]],
            previews=self.previews(name) if resume else [], scale=min(done, cost["num_scales"] - 1),
        )

    def previews(self, name: str) -> list[str]:
        """Each finished scale's preview (real | reconstruction | samples), coarsest first."""
        folder = self.folder(name)
        done = read_manifest(folder)["completed_scales"]
        return [str(scale_dir(folder, n) / "preview.png") for n in range(done)]

    def sample(self, name: str, num: int, seed: int, scale_from: int, noise_scale: float,
               height: int | None, width: int | None) -> tuple[list[str], str]:
        """`singan-tf sample`'s PNGs (in the folder it picks) and a zip of them."""
        folder = self.folder(name)
        images = self.open(name).sample(num, seed, scale_from, height, width, None, None, noise_scale)
        out_dir = default_out_dir(folder, scale_from, noise_scale, height, width, None, None)
        paths = save_samples(images, seed, out_dir)
        archive = out_dir / f"{name}-samples-seed{seed}-{seed + num - 1}.zip"
        with zipfile.ZipFile(archive, "w") as bundle:
            for path in paths[:-1]:
                bundle.write(path, path.name)
        return [str(p) for p in paths[:-1]], str(archive)

    def inject(self, name: str, mode: str, editor: dict[str, Any], injection_scale: int | None,
               seed: int) -> list[tuple[str, str]]:
        """Harmonize or edit the editor's picture inside the strokes drawn over it; the files of
        `singan-tf harmonize/edit` with the same mask, as (path, caption) pairs."""
        if mode not in INJECTION_MODES:
            raise SinganError(f"mode must be one of {', '.join(INJECTION_MODES)}")
        picture, mask = editor_background(editor), editor_mask(editor)
        model = self.open(name)
        run = model.harmonize if mode == "harmonize" else model.edit
        return _shown(run(picture, mask, injection_scale, seed), self.folder(name) / mode / APP_OUTPUTS)

    def paint(self, name: str, editor: dict[str, Any], injection_scale: int | None, seed: int) -> list[tuple[str, str]]:
        """Paint-to-image of the canvas, as `singan-tf paint` writes it."""
        result = self.open(name).paint(editor_composite(editor), injection_scale, seed, progress=False)
        return _shown(result, self.folder(name) / "paint" / APP_OUTPUTS)

    def paint_setup(self, name: str) -> tuple[list[str], np.ndarray]:
        """The training image's main colours as CSS colours, most common first (the brushes), and a
        canvas of the training size in the most common one."""
        model = self.open(name)
        pixels = model.real.reshape(-1, 3).astype(np.float32)
        centres = kmeans(pixels, PALETTE_SIZE)
        nearest = nearest_centre(pixels, centres)
        colours = np.rint(centres[np.argsort(-np.bincount(nearest, minlength=len(centres)))]).astype(np.uint8)
        canvas = np.broadcast_to(colours[0], (*model.size, 3)).copy()
        return [f"rgb({r}, {g}, {b})" for r, g, b in colours.tolist()], canvas

    def export(self, name: str) -> list[str]:
        """`singan-tf export --tflite`'s files as downloads: the SavedModel zipped, the .tflite and
        the limits file beside it."""
        out = self.folder(name) / "exports" / APP_OUTPUTS
        with tempfile.TemporaryDirectory(dir=self.folder(name)) as scratch:
            version_dir = self.open(name).export(Path(scratch), "singan", 1, tflite=True)
            out.mkdir(parents=True, exist_ok=True)
            archive = out / f"{name}-savedmodel.zip"
            with zipfile.ZipFile(archive, "w") as bundle:
                for path in sorted(version_dir.rglob("*")):
                    if path.is_file():
                        bundle.write(path, Path("singan", "1", path.relative_to(version_dir)))
            tflite = out / f"{name}.tflite"
            shutil.copyfile(tflite_path(version_dir), tflite)
            limits = out / f"{name}.tflite.json"
            shutil.copyfile(limits_path(tflite_path(version_dir)), limits)
        return [str(archive), str(tflite), str(limits)]


def editor_background(editor: dict[str, Any] | None) -> np.ndarray:
    """The uploaded picture under the strokes: the naive image of harmonization and editing."""
    if not isinstance(editor, dict) or editor.get("background") is None:
        raise SinganError("upload the image to blend into the editor first")
    return np.asarray(editor["background"])[..., :3]


def editor_composite(editor: dict[str, Any] | None) -> np.ndarray:
    """The picture with the strokes painted over it: the painting of paint-to-image."""
    if not isinstance(editor, dict) or editor.get("composite") is None:
        raise SinganError("paint on the canvas first")
    return np.asarray(editor["composite"])[..., :3]


def editor_mask(editor: dict[str, Any]) -> np.ndarray:
    """White where any stroke layer has paint (alpha above 0), black elsewhere: the mask file
    `singan-tf harmonize --mask` would take."""
    layers = [np.asarray(layer) for layer in editor.get("layers") or [] if layer is not None]
    painted = [layer[..., 3] > 0 for layer in layers if layer.ndim == 3 and layer.shape[-1] == 4]
    if not painted or not np.any(painted):
        raise SinganError("the mask is empty: draw over the part to blend in (the brush paints the mask)")
    return np.where(np.logical_or.reduce(painted), 255, 0).astype(np.uint8)


def _shown(result: InjectionResult, out_dir: Path) -> list[tuple[str, str]]:
    """Writes the command's files; returns the application's results (the last row's), one per
    injection scale, with their captions."""
    result.save(out_dir)
    last = result.rows[-1]
    return [(str(out_dir / f"start_scale={scale}{last.suffix}.png"), f"scale {scale}") for scale in last.images]
