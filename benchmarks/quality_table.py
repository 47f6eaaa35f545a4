"""The fast-mode series' verdict table: every run in the results file next to the paper-2000
reference of its image, as ratios, checked against the limits of issue 18's point 1.

    python benchmarks/quality_table.py [--name fast-96]     # markdown on stdout

Limits, from scales 0 and 1: patch SWD, coherence and completeness at most 1.10x the reference's,
diversity within 0.05 of it, reconstruction RMSE at most 1.2x. A figure within 5% of its limit is
marked "close" (the plan adds a second seed there).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "quality_runs.jsonl"
REFERENCE = ROOT / "benchmarks" / "results" / "paper-2000-reference.json"
RATIO_LIMIT = 1.10
DIVERSITY_LIMIT = 0.05
RECONSTRUCTION_LIMIT = 1.2
CLOSE = 0.05


def verdict(value: float, limit: float) -> str:
    """'ok', 'close' (within 5% of the limit, either side) or 'MISS'."""
    if abs(value - limit) <= CLOSE * limit:
        return "close" if value <= limit else "MISS (close)"
    return "ok" if value <= limit else "MISS"


def row(run: dict, reference: dict) -> tuple[list[str], list[str]]:
    cells, verdicts = [], []
    for start in ("from_0", "from_1"):
        ours, ref = run[start], reference[start]
        shift = ours["diversity"] - ref["diversity"]
        cells.append(f"{ours['diversity']:.3f} ({shift:+.3f})")
        verdicts.append(verdict(abs(shift), DIVERSITY_LIMIT))
        for metric in ("patch_swd", "coherence", "completeness"):
            ratio = ours[metric] / ref[metric]
            cells.append(f"{ours[metric]:.4f} ({ratio:.2f}x)")
            verdicts.append(verdict(ratio, RATIO_LIMIT))
    ratio = run["from_0"]["reconstruction_rmse"] / reference["reconstruction_rmse"]
    cells.append(f"{run['from_0']['reconstruction_rmse']:.4f} ({ratio:.2f}x)")
    verdicts.append(verdict(ratio, RECONSTRUCTION_LIMIT))
    return cells, verdicts


@click.command()
@click.option("--name", default=None, help="Only the runs of this mode.")
def main(name: str | None) -> None:
    """Print the table (markdown)."""
    references = json.loads(REFERENCE.read_text())["images"]
    runs = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    header = ["mode", "image", "seed", "wall min", *(f"{k} {m}" for k in ("from 0:", "from 1:")
                                                    for m in ("div", "SWD", "coh", "compl")), "rec RMSE", "verdict"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for run in runs:
        if (name and run["name"] != name) or run["image"] not in references:
            continue
        cells, verdicts = row(run, references[run["image"]])
        misses = sum(v.startswith("MISS") for v in verdicts)
        close = sum("close" in v for v in verdicts)
        summary = f"{misses} of {len(verdicts)} miss" + (f", {close} close" if close else "")
        print(f"| {run['name']} | {run['image']} | {run['seed']} | {run['wall_seconds'] / 60:.1f} | "
              + " | ".join(cells) + f" | {summary} |")


if __name__ == "__main__":
    main()
