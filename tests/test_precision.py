"""`--mixed-precision`: what it computes in on each kind of machine, and the oneDNN limit that keeps
bfloat16 off the AMX kernels which turned training NaN (issue 17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from singan_tf.bench.reference_runs import this_machine
from singan_tf.config import preset
from singan_tf.precision import AMX_FREE_ISA, choose_policy, describe_policy, onednn_isa_limit

from conftest import DEMO_IMAGE, ROOT

AMX_CPU = {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
ZEN_CPU = {"avx512f", "avx512_bf16"}


def test_mixed_precision_picks_what_the_device_computes_in():
    assert choose_policy((8, 6), set()) == choose_policy((9, 0), set()) == "mixed_bfloat16"
    assert choose_policy((7, 5), {"amx_bf16"}) == "mixed_float16"  # a T4: the GPU decides
    assert choose_policy(None, AMX_CPU, AMX_FREE_ISA) == choose_policy(None, AMX_CPU, "AVX10_1_512_AMX") == "mixed_bfloat16"
    assert choose_policy(None, AMX_CPU) is None  # no limit on an AMX CPU: AMX's kernels, which turned NaN
    assert choose_policy(None, ZEN_CPU) == "mixed_bfloat16"
    assert choose_policy(None, {"avx2", "fma"}) is None
    # oneDNN limited below AVX-512 builds no bfloat16 convolution: float32 instead of an abort
    assert choose_policy(None, AMX_CPU, "AVX2") is None


def test_bfloat16_on_an_amx_cpu_leaves_amx_out_unless_the_user_chose_a_limit():
    assert onednn_isa_limit(None, AMX_CPU, None) == AMX_FREE_ISA == "AVX512_CORE_BF16"
    assert onednn_isa_limit(None, AMX_CPU, "AVX10_1_512_AMX") is None  # the user's own choice stays
    assert onednn_isa_limit(None, ZEN_CPU, None) is None  # no AMX: nothing to leave out
    assert onednn_isa_limit((9, 0), AMX_CPU, None) is None  # the convolutions run on the GPU
    assert onednn_isa_limit(None, {"avx2", "fma"}, None) is None  # float32


def test_mixed_precision_says_in_one_line_what_it_does_here():
    assert describe_policy(None, {"avx2", "fma"}) == (
        "--mixed-precision: this CPU has no bfloat16 units (AVX-512 BF16 or AMX), so training runs in float32, "
        "as without the flag")
    assert describe_policy(None, AMX_CPU, AMX_FREE_ISA) == (
        "--mixed-precision: bfloat16 convolutions on this CPU's AVX-512 BF16 units; AMX off "
        "(ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16): its oneDNN kernels turned bfloat16 training NaN")
    assert describe_policy(None, AMX_CPU, "AVX10_1_512_AMX") == (
        "--mixed-precision: bfloat16 convolutions on this CPU's AMX and AVX-512 BF16 units "
        "(ONEDNN_MAX_CPU_ISA=AVX10_1_512_AMX; AMX's oneDNN kernels have turned bfloat16 training NaN)")
    assert describe_policy(None, ZEN_CPU) == "--mixed-precision: bfloat16 convolutions on this CPU's AVX-512 BF16 units"
    assert describe_policy(None, AMX_CPU, "AVX2") == (
        "--mixed-precision: ONEDNN_MAX_CPU_ISA=AVX2 keeps oneDNN from bfloat16 convolutions, so training runs in "
        "float32, as without the flag")
    assert describe_policy(None, AMX_CPU) == (
        "--mixed-precision: TensorFlow ran in this process before training, too late to leave AMX out (its "
        "bfloat16 kernels turned training NaN), so training runs in float32; set "
        "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 before the process starts")
    assert describe_policy((9, 0), set()) == "--mixed-precision: bfloat16 convolutions on the GPU (compute capability 9.0)"
    assert "float16 convolutions with loss scaling" in describe_policy((7, 5), {"amx_bf16"})


def test_starting_mixed_precision_sets_the_limit_and_keeps_the_users(monkeypatch):
    from singan_tf import precision

    monkeypatch.setattr(precision, "_device", lambda: (None, AMX_CPU))
    monkeypatch.setattr(precision, "_tensorflow_has_run", lambda: False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert "AMX off" in precision.start_mixed_precision()
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX512_CORE_BF16"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX10_1_512_AMX")
    assert "AMX and AVX-512 BF16 units" in precision.start_mixed_precision()
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX10_1_512_AMX"


def test_an_amx_cpu_trains_float32_where_the_limit_comes_too_late(monkeypatch):
    """A process that ran TensorFlow before training (a notebook that sampled first): oneDNN may have
    fixed its ISA already, so setting the limit would only claim AMX is off. It trains in float32
    and says why, instead of on the AMX kernels that turned NaN."""
    import tensorflow as tf

    from singan_tf import precision

    tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([3, 3, 1, 1]), 1, "SAME")
    monkeypatch.setattr(precision, "_device", lambda: (None, AMX_CPU))
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert precision._tensorflow_has_run()
    assert "too late to leave AMX out" in precision.start_mixed_precision(preset("tiny", mixed_precision=True))
    assert "ONEDNN_MAX_CPU_ISA" not in os.environ
    assert precision.mixed_policy() is None


def test_the_small_scales_stay_float32_and_the_note_says_so(monkeypatch):
    """16 bits pay where the arithmetic dominates; the fast preset's small scales are bound by
    per-operation overhead (no faster in bfloat16) and set every sample's layout, so they stay float32.
    Presets without small scales (paper) run every scale in 16 bits."""
    from singan_tf import precision

    fast = preset("fast")
    assert fast.mixed_precision and fast.small_max_pixels == 5000
    assert not fast.sixteen_bits(54, 71) and not fast.sixteen_bits(70, 71)  # windows of 3834 and 4970 px
    assert fast.sixteen_bits(71, 71) and fast.sixteen_bits(186, 248)  # 5041 px; a 96x96 window
    assert not preset("fast", mixed_precision=False).sixteen_bits(186, 248)
    assert preset("paper", mixed_precision=True).sixteen_bits(25, 34)
    monkeypatch.setattr(precision, "_device", lambda: (None, ZEN_CPU))
    assert precision.start_mixed_precision(fast).endswith(
        "AVX-512 BF16 units; the small scales (windows of at most 5000 px) stay float32")
    assert precision.start_mixed_precision(preset("paper", mixed_precision=True)).endswith("AVX-512 BF16 units")
    monkeypatch.setattr(precision, "_device", lambda: (None, {"avx2"}))
    assert precision.start_mixed_precision(fast).endswith("as without the flag")


def test_training_with_mixed_precision_prints_what_it_does(demo_image, tmp_path, monkeypatch, capsys):
    from singan_tf import fit as fit_module

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_module, "build_reals", stop)
    monkeypatch.setattr(fit_module, "start_mixed_precision", lambda config: "NOTE")
    with pytest.raises(KeyboardInterrupt):
        fit_module.fit(demo_image, tmp_path / "m", preset("tiny", mixed_precision=True), seed=1)
    assert capsys.readouterr().out.splitlines() == ["NOTE"]


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """A fresh interpreter: oneDNN fixes its ISA limit at the process's first operation."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ONEDNN_")} | env
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.skipif("avx512_bf16" not in this_machine()["flags"],
                    reason="needs a CPU whose default oneDNN ISA differs from the limit set here")
def test_the_limit_is_set_before_the_first_onednn_operation_of_a_training(tmp_path):
    """`singan-tf train --mixed-precision` on a CPU made to report AMX, with the limit swapped for
    AVX512_CORE (below this CPU's own bfloat16 ISA, so its effect shows on any AVX-512 BF16 host):
    oneDNN's start-up line must name the limit, which it takes only if the limit was set before
    the process's first oneDNN operation."""
    run = _run_python(f"""
        import sys
        import singan_tf.precision as precision
        real = precision.this_machine
        precision.this_machine = lambda: {{**real(), "flags": real()["flags"] | {{"amx_bf16", "amx_tile"}}}}
        precision.AMX_FREE_ISA = "AVX512_CORE"
        from singan_tf.cli.main import cli
        sys.argv[1:] = ["train", {str(DEMO_IMAGE)!r}, "--preset", "tiny", "--niter", "2", "--mixed-precision",
                        "--seed", "1", "--out", {str(tmp_path / "m")!r}]
        cli(prog_name="singan-tf")
    """, ONEDNN_VERBOSE="profile_create")
    assert run.returncode == 0, run.stderr[-3000:]
    isa_lines = [line for line in run.stdout.splitlines() if line.startswith("onednn_verbose") and ",isa:" in line]
    assert isa_lines == ["onednn_verbose,v1,info,cpu,isa:Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions"]
    assert "AMX off (ONEDNN_MAX_CPU_ISA=AVX512_CORE)" in run.stdout
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["completed_scales"] == len(manifest["scale_sizes"]) >= 2


@pytest.mark.skipif(not this_machine()["flags"] & {"avx512_bf16", "amx_bf16"},
                    reason="a CPU without bfloat16 units trains float32 under --mixed-precision")
def test_the_bfloat16_weight_gradient_stays_finite_next_to_nan_bytes(tmp_path):
    """Issue 17's reproduction, shrunk: the weight-gradient convolution on finite inputs whose
    buffers are followed by NaN or Inf, as `--mixed-precision` sets the process up. On an AMX CPU
    this is the fix's check (AMX's kernel let such bytes through); elsewhere the same kernels run
    as in training."""
    report = tmp_path / "repro.json"
    run = _run_python(f"""
        import sys
        sys.path.insert(0, "benchmarks")
        import bf16_nan_repro
        bf16_nan_repro.PYRAMID_96 = bf16_nan_repro.PYRAMID_96[:2]
        sys.argv[1:] = ["--as-trained", "--calls", "3", "--json", {str(report)!r}]
        bf16_nan_repro.main()
    """)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = json.loads(report.read_text())["rows"]
    assert len(rows) == 2 * 2 * 3 and {row["neighbours"] for row in rows} == {"none", "nan", "inf"}
    assert [row for row in rows if row["non_finite"]] == []
