"""The official SinGAN's training speed, and the machine it was measured on.

A speed-up is only meaningful against figures from the same kind of machine, measured the same way:
the official code ran 1.7-2x slower per iteration on an AVX2-only AMD EPYC than on the AVX-512/AMX
Xeon measured here. So the figures carry their machine, and `bench` states a speed-up only when it
runs on a machine of that kind.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Machine:
    """A CPU kind as /proc/cpuinfo names it: vendor family/model numbers and the vector features
    that decide convolution speed."""

    description: str
    family: int
    model: int
    flags: tuple[str, ...]


OFFICIAL_MACHINE = Machine(
    "Intel Xeon, family 6 model 207 (Sapphire Rapids class), 2 vCPUs, AVX-512 with bf16/fp16, AMX, KVM guest, "
    "24 GB; official SinGAN (tamarott/SinGAN) on PyTorch 2.13 CPU, 2 threads, measured 2026-12-01",
    family=6,
    model=207,
    flags=("avx512f", "avx512_bf16", "amx_bf16", "amx_tile"),
)

# balloons.png, paper settings: seconds per iteration (3 critic + 3 generator steps), the settled value
# and every iteration timed, by scale (../shared/docs/official-reference-runs.md).
OFFICIAL_SEC_PER_ITER = {6: 1.85, 7: 2.95, 8: 19.3}
OFFICIAL_ITERATION_TIMES = {6: (3.28, 3.12, 1.89, 1.85), 7: (3.53, 3.14, 2.79, 3.07), 8: (20.45, 18.58, 19.97)}
# A whole paper-settings run of balloons.png (9 scales x 2000 iterations) there, hours.
OFFICIAL_PAPER_RUN_HOURS = 15.0
# balloons.png --max_size 96 --niter 300 --manualSeed 1: seconds of iterations per scale (5 scales).
OFFICIAL_QUICK_RUN_SCALE_SEC = (38.6, 37.0, 44.7, 62.2, 230.2)


def this_machine(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, object]:
    """family, model and flags of the first CPU in /proc/cpuinfo (empty where it cannot be read)."""
    fields: dict[str, str] = {}
    try:
        for line in cpuinfo.read_text().splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    except OSError:
        pass

    def number(key: str) -> int | None:
        return int(fields[key]) if fields.get(key, "").isdigit() else None

    return {"name": fields.get("model name", ""), "family": number("cpu family"), "model": number("model"),
            "flags": set(fields.get("flags", "").split())}


def mismatch(machine: Machine = OFFICIAL_MACHINE, here: dict[str, object] | None = None) -> str | None:
    """Why this machine is not of `machine`'s kind, or None when it is."""
    here = this_machine() if here is None else here
    if (here["family"], here["model"]) != (machine.family, machine.model):
        return (f"this CPU is family {here['family']} model {here['model']} ({here['name'] or 'unknown'}), "
                f"the reference ran on family {machine.family} model {machine.model}")
    missing = [flag for flag in machine.flags if flag not in here["flags"]]
    if missing:
        return f"this CPU lacks {', '.join(missing)}, which the reference machine has"
    return None
