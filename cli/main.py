"""The `singan-tf` command: one group, one module per command, and one place that turns user
errors into a single line and exit code 2."""

from __future__ import annotations

import os
import sys

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import importlib  # noqa: E402

from singan_tf.errors import SinganError  # noqa: E402

# One module per command in this folder, each defining `command`; listed in the order of --help.
COMMANDS = [
    "plan",
    "train",
    "train_many",
    "sample",
    "harmonize",
    "edit",
    "paint",
    "super_resolve",
    "animate",
    "export",
    "serve",
    "client",
    "app",
    "eval",
    "bench",
]


class UserError(click.ClickException):
    exit_code = 2


def import_tensorflow_quietly() -> None:
    """TensorFlow's C++ start-up lines (CUDA probing, oneDNN notices) bypass every log-level
    setting, so stderr is closed while it loads and finds its devices. Python errors still surface."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        if not {"-h", "--help"} & set(sys.argv):
            import_tensorflow_quietly()
        try:
            return super().invoke(ctx)
        except SinganError as err:
            raise UserError(str(err)) from None
        except MemoryError:
            raise UserError("out of memory; use a smaller --max-size or output size") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="singan-tf")
def cli() -> None:
    """SinGAN: learn a generative model from one image, then sample it at any size.

    \b
    singan-tf plan photo.jpg                 # the scales it would train, and their cost
    singan-tf train photo.jpg --preset quick  # -> models/photo/
    singan-tf sample models/photo --num 8 --scale-from 1
    """


for name in COMMANDS:
    cli.add_command(importlib.import_module(f"singan_tf.cli.{name}").command)


def main() -> None:
    cli(prog_name="singan-tf")


if __name__ == "__main__":
    sys.exit(main())
