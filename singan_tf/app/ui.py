"""The page: one tab per job a user has (train, sample, harmonize or edit, paint, export).

Every handler is a thin call into `actions.py`; a SinganError becomes the page's error message, in
the command line's words, and the server goes on serving. Uploads arrive as files (not as Gradio
images, which would be re-encoded first) so the pixels and the error messages are the CLI's.
"""

from __future__ import annotations

import functools
import time
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from singan_tf.app.actions import INJECTION_MODES, ModelShelf, check_upload, model_name_for
from singan_tf.app.jobs import TrainingQueue
from singan_tf.config import PRESETS, preset as make_config
from singan_tf.errors import SinganError
from singan_tf.limits import MAX_NOISE_SCALE

BUNDLED_IMAGE = Path(str(resources.files("singan_tf.assets") / "balloons.png"))
REFRESH_SECONDS = 1.0
MAX_SAMPLES = 64
# The models' pictures are small (25-250 px): shown larger, they stay sharp instead of blurred.
# A scale's preview is a wide strip (real | reconstruction | samples): shown whole at the page's
# width, in a cell as high as the strip, not cropped to a square thumbnail.
CSS = """#previews img, #samples img, #harmonized img, #paintings img { image-rendering: pixelated; }
#previews .thumbnail-item { aspect-ratio: auto; height: auto; }
#previews .thumbnail-item img { height: auto; }"""
MASK_BRUSH = gr.Brush(colors=["#ff00ff"], color_mode="fixed", default_size=12)


def _page_errors(handler: Callable) -> Callable:
    """A SinganError from a handler becomes the page's one-line error instead of a traceback."""

    @functools.wraps(handler)
    def shown(*args: Any) -> Any:
        try:
            return handler(*args)
        except SinganError as err:
            raise gr.Error(str(err), print_exception=False) from None

    return shown


def _whole(value: float | None, what: str) -> int:
    """A whole, non-negative number from a number box (empty = 0)."""
    if value is None or value == "":
        return 0
    if float(value) != int(value) or int(value) < 0:
        raise SinganError(f"{what} must be a whole number from 0 up (got {value})")
    return int(value)


def _optional(value: float | None, what: str) -> int | None:
    """A number box where 0 (or empty) means "not given": the training size, every injection scale."""
    return _whole(value, what) or None


def _model_picker(shelf: ModelShelf, elem_id: str) -> gr.Dropdown:
    names = shelf.names()
    return gr.Dropdown(names, value=names[-1] if names else None, label="Model", elem_id=elem_id,
                       allow_custom_value=True)


def _injection_inputs() -> tuple[gr.Number, gr.Number]:
    """The injection scale and seed, as harmonize, edit and paint take them."""
    return (gr.Number(0, precision=0, minimum=0, label="Injection scale (0 = every scale, side by side)"),
            gr.Number(0, precision=0, minimum=0, label="Seed"))


def _results(elem_id: str) -> gr.Gallery:
    return gr.Gallery(label="Results by injection scale", columns=4, height="auto", preview=False, format="png",
                      elem_id=elem_id)


def build(shelf: ModelShelf, jobs: TrainingQueue) -> gr.Blocks:
    """The Blocks app on `shelf`'s models folder, training through `jobs`."""
    with gr.Blocks(title="singan-tf", analytics_enabled=False) as page:
        gr.Markdown("# singan-tf\nTrain a SinGAN on one image, then sample it and use it, all on this machine.")
        pickers = []
        with gr.Tab("Train"):
            with gr.Row():
                with gr.Column():
                    upload = gr.File(label="Training image", file_types=["image"], type="filepath", elem_id="upload")
                    bundled = gr.Button("Use the bundled balloons.png", size="sm", elem_id="bundled")
                with gr.Column():
                    preset = gr.Radio(list(PRESETS), value="quick", label="Preset", elem_id="preset",
                                      info="tiny = seconds (a check), quick = minutes, fast = the paper's size in "
                                           "about a ninth of its time, paper = the official settings (hours)")
                    seed = gr.Number(-1, precision=0, minimum=-1, label="Seed (-1 = random, recorded in the model)")
                    name = gr.Textbox(label="Model name", placeholder="from the image's file name", elem_id="model-name",
                                      info="an existing model's name continues (resumes) it")
                    with gr.Row():
                        train = gr.Button("Train", variant="primary", elem_id="train")
                        cancel = gr.Button("Cancel", elem_id="cancel")
            status = gr.Textbox(label="Progress", interactive=False, elem_id="train-status")
            previews = gr.Gallery(label="Finished scales: real | reconstruction | samples", columns=1,
                                  height="auto", object_fit="contain", preview=False, format="png",
                                  elem_id="previews")
            job = gr.State(None)
        with gr.Tab("Sample"):
            pickers.append(_model_picker(shelf, "sample-model"))
            with gr.Row():
                num = gr.Slider(1, MAX_SAMPLES, value=8, step=1, label="Number")
                sample_seed = gr.Number(0, precision=0, minimum=0, label="Seed (image i uses seed + i)")
                scale_from = gr.Number(0, precision=0, minimum=0, label="Start scale (0 = fully random)")
                noise_scale = gr.Slider(0, MAX_NOISE_SCALE, value=1.0, step=0.05, label="Noise scale")
                height = gr.Number(0, precision=0, minimum=0, label="Height (0 = training size)")
                width = gr.Number(0, precision=0, minimum=0, label="Width (0 = training size)")
            sample = gr.Button("Sample", variant="primary", elem_id="sample")
            samples = gr.Gallery(label="Samples", columns=4, height="auto", preview=False, format="png",
                                 elem_id="samples")
            samples_zip = gr.File(label="All of them as a zip", elem_id="samples-zip")
        with gr.Tab("Harmonize / edit"):
            pickers.append(_model_picker(shelf, "harmonize-model"))
            with gr.Row():
                mode = gr.Radio(list(INJECTION_MODES), value="harmonize", label="Mode",
                                info="harmonize = a pasted object takes the image's look; edit = re-draw an edited region")
                injection, inject_seed = _injection_inputs()
            naive = gr.ImageEditor(label="Upload the image, then paint over the region to blend in (the mask)",
                                   type="numpy", image_mode="RGBA", format="png", brush=MASK_BRUSH, eraser=gr.Eraser(),
                                   layers=False, elem_id="naive")
            harmonize = gr.Button("Run", variant="primary", elem_id="harmonize")
            harmonized = _results("harmonized")
        with gr.Tab("Paint"):
            pickers.append(_model_picker(shelf, "paint-model"))
            with gr.Row():
                paint_injection, paint_seed = _injection_inputs()
            canvas = gr.ImageEditor(label="Paint with the training image's colours", type="numpy", format="png",
                                    layers=False, elem_id="canvas")
            paint = gr.Button("Paint to image", variant="primary", elem_id="paint")
            paintings = _results("paintings")
        with gr.Tab("Export"):
            pickers.append(_model_picker(shelf, "export-model"))
            gr.Markdown("The SavedModel (for TF Serving and TF code, zipped in TF Serving's layout), the "
                        "TFLite file and its limits, as `singan-tf export --tflite` writes them.")
            export = gr.Button("Export", variant="primary", elem_id="export")
            exports = gr.File(label="Downloads", file_count="multiple", elem_id="exports")
        sample_picker, harmonize_picker, paint_picker, export_picker = pickers

        @_page_errors
        def check(path: str | None, chosen: str) -> tuple[str, str]:
            if path is None:
                return "", ""
            h, w = check_upload(path, make_config(chosen))
            return model_name_for(path), f"{Path(path).name}: {h}x{w} px, ready to train"

        @_page_errors
        def submit(path: str | None, chosen: str, seed_value: float | None, model_name: str) -> tuple[Any, str]:
            model_name = (model_name or "").strip() or (model_name_for(path) if path else "")
            seed_or_random = None if seed_value is None or seed_value < 0 else _whole(seed_value, "the seed")
            return jobs.submit(shelf.training_job(model_name, path, chosen, seed_or_random)), model_name

        def start(path: str | None, chosen: str, seed_value: float | None, model_name: str):
            submitted, model_name = submit(path, chosen, seed_value, model_name)
            while True:
                finished = submitted.finished
                line = submitted.status(jobs.ahead_of(submitted))
                if finished and shelf.names():
                    names = shelf.names()
                    value = model_name if model_name in names else names[-1]
                    picked = [gr.Dropdown(choices=names, value=value) for _ in pickers]
                else:
                    picked = [gr.skip() for _ in pickers]
                yield (submitted.id, line, list(submitted.previews), *picked)
                if finished:
                    return
                time.sleep(REFRESH_SECONDS)

        def stop(job_id: int | None) -> str:
            if job_id is None:
                return "nothing is training"
            cancelled = jobs.cancel(job_id)
            return cancelled.status(jobs.ahead_of(cancelled))

        @_page_errors
        def draw(model: str, count: float, seed_value: float | None, start_scale: float | None, noise: float,
                 h: float | None, w: float | None) -> tuple[list[str], str]:
            return shelf.sample(model, int(count), _whole(seed_value, "the seed"), _whole(start_scale, "the start scale"),
                                float(noise), _optional(h, "the height"), _optional(w, "the width"))

        @_page_errors
        def inject(model: str, chosen_mode: str, editor: dict, scale: float | None, seed_value: float | None):
            return shelf.inject(model, chosen_mode, editor, _optional(scale, "the injection scale"),
                                _whole(seed_value, "the seed"))

        @_page_errors
        def paint_canvas(model: str | None):
            if not model:
                return gr.skip()
            colours, blank = shelf.paint_setup(model)
            # colours[0] fills the canvas, so the brush starts with the next one
            brush = gr.Brush(colors=colours, default_color=colours[1], color_mode="fixed", default_size=8)
            return gr.ImageEditor(value={"background": blank, "layers": [], "composite": blank}, brush=brush)

        @_page_errors
        def render(model: str, editor: dict, scale: float | None, seed_value: float | None):
            return shelf.paint(model, editor, _optional(scale, "the injection scale"), _whole(seed_value, "the seed"))

        @_page_errors
        def refresh_pickers():
            names = shelf.names()
            return [gr.Dropdown(choices=names) for _ in pickers]

        bundled.click(lambda: str(BUNDLED_IMAGE), None, upload, api_name="bundled")
        upload.change(check, [upload, preset], [name, status], api_name="check")
        train.click(start, [upload, preset, seed, name], [job, status, previews, *pickers], api_name="train",
                    concurrency_limit=None)
        cancel.click(stop, job, status, api_name="cancel", concurrency_limit=None)
        sample.click(draw, [sample_picker, num, sample_seed, scale_from, noise_scale, height, width],
                     [samples, samples_zip], api_name="sample")
        harmonize.click(inject, [harmonize_picker, mode, naive, injection, inject_seed], harmonized,
                        api_name="harmonize")
        paint_picker.change(paint_canvas, paint_picker, canvas, api_visibility="private")
        paint.click(render, [paint_picker, canvas, paint_injection, paint_seed], paintings, api_name="paint")
        export.click(_page_errors(shelf.export), export_picker, exports, api_name="export")
        page.load(refresh_pickers, None, pickers, api_visibility="private")
        page.load(paint_canvas, paint_picker, canvas, api_visibility="private")
    return page
