"""What `--mixed-precision` computes in on this machine, and the one process setting it needs.

bfloat16 where the hardware computes in it, float16 with loss scaling on GPUs that have no bfloat16,
float32 elsewhere. On CPUs with AMX, oneDNN v3.7.3 (bundled with TensorFlow 2.21) picks AMX kernels
for bfloat16 convolutions, and there a bfloat16 training turned NaN: a weight-gradient convolution
returned NaN from finite inputs, intermittently (issue 17; the matching oneDNN bug, #5717, reads
bytes past a tensor's end). So bfloat16 on such a CPU runs on its AVX-512 BF16 instructions with AMX
left out: the kernels that CPUs with AVX-512 BF16 and no AMX run, measured finite there and as good
as float32 (docs/benchmarks.md). oneDNN reads its ISA limit, `ONEDNN_MAX_CPU_ISA`, once, at the first
operation it runs in the process: the limit is set before a training's first TensorFlow operation,
and a limit the user set is kept. A process where TensorFlow ran before training (a notebook that
sampled first) is past that point: there an AMX CPU trains in float32, and says so, rather than on
the kernels that turned NaN.
"""

from __future__ import annotations

import os

import tensorflow as tf

from singan_tf.bench.reference_runs import this_machine
from singan_tf.config import TrainConfig

ISA_LIMIT = "ONEDNN_MAX_CPU_ISA"
AMX_FREE_ISA = "AVX512_CORE_BF16"
# Below AVX-512 oneDNN builds no bfloat16 convolution inside TensorFlow (the op aborts).
_NO_BFLOAT16_ISAS = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2"}


def _allows_amx(isa_limit: str) -> bool:
    return "AMX" in isa_limit.upper() or isa_limit.upper() in {"DEFAULT", "ALL"}


def _amx_without_limit(cpu_flags: set[str], isa_limit: str | None) -> bool:
    """An AMX CPU whose oneDNN nobody limited: `start_mixed_precision` came too late to."""
    return "amx_bf16" in cpu_flags and isa_limit is None


def choose_policy(gpu_capability: tuple[int, int] | None, cpu_flags: set[str],
                  isa_limit: str | None = None) -> str | None:
    """bfloat16 where the hardware computes in it (GPUs from compute capability 8.0 on, CPUs with
    AVX-512 BF16 or AMX): it keeps float32's exponent range, so no loss scaling is needed. float16
    on older GPUs (their tensor cores), with loss scaling (`training.py`). None (float32) on a CPU
    without bfloat16 instructions, which would only emulate it, or whose oneDNN is limited below them,
    and on an AMX CPU with no limit at all: its AMX kernels turned bfloat16 training NaN, and
    `start_mixed_precision` sets the limit wherever it still can."""
    if gpu_capability is not None:
        return "mixed_bfloat16" if gpu_capability >= (8, 0) else "mixed_float16"
    if isa_limit is not None and isa_limit.upper() in _NO_BFLOAT16_ISAS:
        return None
    if _amx_without_limit(cpu_flags, isa_limit):
        return None
    return "mixed_bfloat16" if cpu_flags & {"avx512_bf16", "amx_bf16"} else None


def onednn_isa_limit(gpu_capability: tuple[int, int] | None, cpu_flags: set[str],
                     isa_limit: str | None) -> str | None:
    """The ISA limit bfloat16 training sets on this machine: AVX-512 BF16 where the CPU's
    convolutions would otherwise run on AMX, unless the user chose a limit (None: nothing to set)."""
    return AMX_FREE_ISA if gpu_capability is None and "amx_bf16" in cpu_flags and isa_limit is None else None


def describe_policy(gpu_capability: tuple[int, int] | None, cpu_flags: set[str], isa_limit: str | None = None) -> str:
    """`choose_policy`'s choice in words: a user who asked for 16 bits learns when it is float32, and
    on which units it runs."""
    policy = choose_policy(gpu_capability, cpu_flags, isa_limit)
    if gpu_capability is not None:
        device = f"the GPU (compute capability {gpu_capability[0]}.{gpu_capability[1]})"
        if policy == "mixed_bfloat16":
            return f"--mixed-precision: bfloat16 convolutions on {device}"
        return f"--mixed-precision: float16 convolutions with loss scaling on {device}, which has no bfloat16"
    if _amx_without_limit(cpu_flags, isa_limit):
        return (f"--mixed-precision: TensorFlow ran in this process before training, too late to leave AMX out "
                f"(its bfloat16 kernels turned training NaN), so training runs in float32; set "
                f"{ISA_LIMIT}={AMX_FREE_ISA} before the process starts")
    if policy is None and cpu_flags & {"avx512_bf16", "amx_bf16"}:
        return (f"--mixed-precision: {ISA_LIMIT}={isa_limit} keeps oneDNN from bfloat16 convolutions, so training "
                "runs in float32, as without the flag")
    if policy is None:
        return ("--mixed-precision: this CPU has no bfloat16 units (AVX-512 BF16 or AMX), so training runs in "
                "float32, as without the flag")
    amx = "amx_bf16" in cpu_flags and _allows_amx(isa_limit)
    units = " and ".join(name for flag, name in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 BF16"))
                         if flag in cpu_flags and (flag != "amx_bf16" or amx))
    note = f"--mixed-precision: bfloat16 convolutions on this CPU's {units} units"
    if "amx_bf16" in cpu_flags and not amx:
        return f"{note}; AMX off ({ISA_LIMIT}={isa_limit}): its oneDNN kernels turned bfloat16 training NaN"
    if amx:
        return f"{note} ({ISA_LIMIT}={isa_limit}; AMX's oneDNN kernels have turned bfloat16 training NaN)"
    return note


def _tensorflow_has_run() -> bool:
    """Whether this process has run a TensorFlow operation, the earliest a oneDNN one can have run
    (listing devices runs none). Errs towards yes: an operation outside oneDNN counts too."""
    from tensorflow.python.eager import context

    return getattr(context.context(), "_initialized", True)


def _device() -> tuple[tuple[int, int] | None, set[str]]:
    """The first GPU's compute capability (None without a GPU) and the CPU's flags."""
    gpus = tf.config.list_physical_devices("GPU")
    capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") if gpus else None
    return (tuple(capability or (0, 0)) if gpus else None), this_machine()["flags"]


def mixed_policy() -> str | None:
    """The Keras dtype policy `--mixed-precision` uses in this process (see `choose_policy`)."""
    return choose_policy(*_device(), os.environ.get(ISA_LIMIT))


def start_mixed_precision(config: TrainConfig | None = None) -> str:
    """Set this process up for `--mixed-precision` and say in one line what it computes in (and, for
    a `config` with small scales, that those stay float32: `TrainConfig.sixteen_bits`).

    Must run before the process's first oneDNN operation, which fixes the ISA limit for good: the
    trainer and `bench` call it first thing. A process that ran TensorFlow before it (a notebook
    that sampled, then trains) is past that point: on an AMX CPU it trains in float32 (`choose_policy`)."""
    gpu_capability, cpu_flags = _device()
    limit = onednn_isa_limit(gpu_capability, cpu_flags, os.environ.get(ISA_LIMIT))
    if limit is not None and not _tensorflow_has_run():
        os.environ[ISA_LIMIT] = limit
    isa_limit = os.environ.get(ISA_LIMIT)
    note = describe_policy(gpu_capability, cpu_flags, isa_limit)
    if choose_policy(gpu_capability, cpu_flags, isa_limit) and config is not None and config.small_niter:
        note += f"; the small scales (windows of at most {config.small_max_pixels} px) stay float32"
    return note
