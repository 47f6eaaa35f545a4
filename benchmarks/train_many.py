"""Wall time of N images trained by `train-many --cpus-per-image 1` against the same images trained
one after another by `singan-tf train`, back to back on this machine.

    python benchmarks/train_many.py [IMAGE ...] [--preset quick] [--iters N] [--out DIR] [--json FILE]

Default images: the first 4 (by name) of the official ones in ../shared/images/Images. Both ways
train the same work: the same images, settings and seeds (train-many --seed 0, and `train` with the
seed train-many derives for each image). Each way runs in a fresh folder under --out, through the
installed commands, so it includes everything a user waits for (Ray and TensorFlow start-up, samples).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from singan_tf.many.inputs import IMAGE_SUFFIXES, image_seed, name_jobs

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL_IMAGES = ROOT.parent / "shared" / "images" / "Images"
SEED = 0


def singan_tf(*args: object) -> float:
    """Runs one command to completion; its wall seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "singan_tf.cli.main", *map(str, args), "--quiet"], check=True)
    return time.perf_counter() - started


def default_images(count: int) -> list[Path]:
    images = sorted(p for p in OFFICIAL_IMAGES.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(images) < count:
        raise SystemExit(f"need {count} images in {OFFICIAL_IMAGES}; name them on the command line")
    return images[:count]


def markdown_table(report: dict) -> str:
    many, one_by_one = report["train_many_minutes"], report["train_one_by_one_minutes"]
    return "\n".join([
        f"{len(report['images'])} images, preset {report['preset']}, {report['cores']} cores, load average "
        f"{report['load_average_before']:.1f} before:",
        "",
        "| way | wall minutes |",
        "|---|---|",
        f"| `train-many --cpus-per-image 1` | {many:.1f} |",
        f"| `train`, one after another | {one_by_one:.1f} |",
        f"| ratio (one after another / train-many) | {one_by_one / many:.2f}x |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="*", type=Path)
    parser.add_argument("--count", type=int, default=4, help="How many official images when none are named.")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--iters", type=int, default=None, help="Override the preset's iterations per scale.")
    parser.add_argument("--out", type=Path, default=Path("out/train-many-bench"))
    parser.add_argument("--json", type=Path, default=None, help="Write the measurements here.")
    args = parser.parse_args()

    images = args.images or default_images(args.count)
    if args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"{args.out} is not empty: finished models would be skipped, not timed")
    settings = ["--preset", args.preset] + (["--iters", args.iters] if args.iters else [])
    load_before = os.getloadavg()[0]
    many = singan_tf("train-many", *images, "--out", args.out / "train-many", "--cpus-per-image", 1,
                     "--seed", SEED, *settings)
    one_by_one = sum(singan_tf("train", job.image, "--out", args.out / "train" / job.name,
                               "--seed", image_seed(SEED, job.name), *settings)
                     for job in name_jobs(images))
    report = {
        "images": [str(p) for p in images], "preset": args.preset, "iters": args.iters,
        "train_many_minutes": many / 60, "train_one_by_one_minutes": one_by_one / 60,
        "cores": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
    }
    print(markdown_table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
