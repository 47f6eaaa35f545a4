"""Which images a `train-many` run trains, into which folders, with which seeds.

All three are pure functions of the command line, so re-running the same command finds the same
folders (and so resumes or skips them) and gives every image the same seed, whatever order a
cluster happens to run them in.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Iterable, Sequence

from singan_tf.errors import SinganError

# What a folder contributes: the formats Pillow reads that people keep photos and textures in.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SEED_LIMIT = 2**31  # seeds are in [0, 2**31 - 1], like `train --seed`


@dataclasses.dataclass(frozen=True)
class ImageJob:
    """One image of the batch and where its model goes."""

    image: Path
    name: str  # the model folder's name under --out
    renamed: bool  # the image's stem was taken by an earlier input


def collect_images(paths: Iterable[Path]) -> list[Path]:
    """Files as given (a file that is not an image fails later, alone, with its reason); folders
    contribute their image files, sorted, not recursing; a file reached twice is trained once."""
    images: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
            if not found:
                raise SinganError(f"no image files ({' '.join(IMAGE_SUFFIXES)}) in folder {path}")
            images += found
        elif path.exists():
            images.append(path)
        else:
            raise SinganError(f"no such file or folder: {path}")
    unique, seen = [], set()
    for image in images:
        if image.resolve() not in seen:
            seen.add(image.resolve())
            unique.append(image)
    return unique


def name_jobs(images: Sequence[Path]) -> list[ImageJob]:
    """Model folders are named after the images' stems; a stem already taken (a/x.png, b/x.jpg)
    gets the first free suffix -2, -3, ... in input order. Names are compared case-insensitively
    because some file systems are."""
    taken: set[str] = set()
    jobs = []
    for image in images:
        name, n = image.stem, 1
        while name.casefold() in taken:
            n += 1
            name = f"{image.stem}-{n}"
        taken.add(name.casefold())
        jobs.append(ImageJob(image, name, renamed=n > 1))
    return jobs


def image_seed(seed: int, name: str) -> int:
    """The seed of the image whose model folder is `name` in a run with --seed `seed`:
    the first 8 bytes of sha256("<seed>/<name>"), big-endian, modulo 2**31."""
    digest = hashlib.sha256(f"{seed}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_LIMIT
