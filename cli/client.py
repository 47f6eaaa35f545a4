"""`singan-tf client`: one image from TF Serving or `singan-tf serve`, over gRPC."""

from __future__ import annotations

from pathlib import Path

import click

from singan_tf.cli.options import noise_scale_option


@click.command("client")
@click.option("--target", default="127.0.0.1:8500", show_default=True, help="Server HOST:PORT.")
@click.option("--height", type=click.IntRange(1), required=True, help="Output height, px.")
@click.option("--width", type=click.IntRange(1), required=True, help="Output width, px.")
@click.option("--seed", type=click.IntRange(0, 2**62), default=0, show_default=True)
@click.option("--scale-from", type=click.IntRange(0), default=0, show_default=True,
              help="Scales below this keep the training image's layout, retargeted to the size asked for.")
@noise_scale_option("Values other than 1 need an export that has the sample_with_noise_scale signature.")
@click.option("--model-name", default="singan", show_default=True)
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=60.0, show_default=True, help="Seconds.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output image (PNG).")
def command(target: str, height: int, width: int, seed: int, scale_from: int, noise_scale: float, model_name: str,
            timeout: float, out: Path) -> None:
    """Ask the server for one sample and save it; same seed and size = same pixels as `singan-tf sample`.

    \b
    singan-tf client --target 127.0.0.1:8500 --height 200 --width 300 --seed 1 --out x.png
    singan-tf client --height 72 --width 192 --scale-from 1 --noise-scale 1.5 --out wide.png
    """
    import grpc

    from singan_tf.errors import SinganError
    from singan_tf.image_io import save_image
    from singan_tf.serving.client import connect, predict_image

    try:
        pixels = predict_image(connect(target), height, width, seed, scale_from, model_name, timeout, noise_scale)
    except grpc.RpcError as err:
        raise SinganError(f"{target}: {err.code().name}: {err.details()}") from None
    # load_image's mapping from 8-bit to [-1, 1]; save_image maps it back to the same pixels.
    save_image(pixels.astype("float32") / 255 * 2 - 1, out)
    click.echo(f"wrote {out}")
