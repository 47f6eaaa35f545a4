"""`singan-tf serve` speaks TF Serving's gRPC API: the stock stubs get the Python sampler's pixels,
concurrent clients are all answered, bad requests get TF Serving's status codes and the server stays up,
and the command shuts down cleanly on SIGTERM."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
)

from singan_tf.cli.main import cli
from singan_tf.errors import SinganError
from singan_tf.image_io import to_uint8
from singan_tf.model_store import load_pyramid
from singan_tf.sampler import Sampler
from singan_tf.serving.client import connect, predict_image, sample_request
from singan_tf.serving.server import ModelServer

CLIENTS, REQUESTS = 8, 10
RPC_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def export_base(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from singan_tf.export.saved_model import export_saved_model

    base = tmp_path_factory.mktemp("serving_export")
    export_saved_model(tiny_model, base)
    return base


@pytest.fixture(scope="session")
def sampler(tiny_model: Path) -> Sampler:
    return Sampler(load_pyramid(tiny_model))


@pytest.fixture(scope="module")
def target(export_base: Path):
    server = ModelServer(export_base, port=0, workers=4, max_concurrent_rpcs=2 * CLIENTS)
    port = server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=1)


def expected(sampler: Sampler, height: int, width: int, seed: int, scale_from: int = 0,
             noise_scale: float = 1.0) -> np.ndarray:
    return to_uint8(np.asarray(sampler(height, width, seed, scale_from, noise_scale)))[0]


def test_predict_matches_the_python_sampler(target: str, sampler: Sampler):
    """Noise scale 1 through serving_default, other values through sample_with_noise_scale."""
    stub = connect(target)
    cases = [(24, 32, 3, 0, 1.0), (30, 60, 4, 0, 1.0), (50, 20, 5, 0, 0.5), (24, 32, 6, 1, 1.0), (30, 44, 7, 1, 1.5)]
    for height, width, seed, scale_from, noise_scale in cases:
        np.testing.assert_array_equal(
            predict_image(stub, height, width, seed, scale_from, timeout=RPC_TIMEOUT, noise_scale=noise_scale),
            expected(sampler, height, width, seed, scale_from, noise_scale))


def test_concurrent_clients_all_answered_correctly(target: str, sampler: Sampler):
    requests = [(20 + 3 * i, 30 + 5 * i, 100 + i) for i in range(CLIENTS)]  # distinct sizes and seeds
    wanted = [expected(sampler, *request) for request in requests]
    answers: queue.Queue = queue.Queue()

    def client(index: int) -> None:
        stub = connect(target)
        for n in range(REQUESTS):
            which = (index + n) % len(requests)
            try:
                answers.put((which, predict_image(stub, *requests[which], timeout=RPC_TIMEOUT)))
            except grpc.RpcError as err:
                answers.put((which, err))

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(thread.is_alive() for thread in threads), "clients still waiting"
    results = [answers.get_nowait() for _ in range(answers.qsize())]
    assert len(results) == CLIENTS * REQUESTS
    for which, image in results:
        assert not isinstance(image, grpc.RpcError), image
        np.testing.assert_array_equal(image, wanted[which])


def _code(stub, request) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=RPC_TIMEOUT)
    return caught.value.code()


def test_bad_requests_get_status_codes_and_server_stays_up(target: str, sampler: Sampler):
    stub = connect(target)
    invalid = [sample_request(0, 32, 1), sample_request(24, 129, 1), sample_request(-5, 32, 1),
               sample_request(24, 32, 1, scale_from=2)]
    missing = sample_request(24, 32, 1)
    del missing.inputs["seed"]
    extra = sample_request(24, 32, 1)
    extra.inputs["colour"].CopyFrom(tf.make_tensor_proto(1))
    wrong_dtype = sample_request(24, 32, 1)
    wrong_dtype.inputs["seed"].CopyFrom(tf.make_tensor_proto(1, tf.int32))
    wrong_shape = sample_request(24, 32, 1)
    wrong_shape.inputs["height"].CopyFrom(tf.make_tensor_proto([24], tf.int32))
    unknown_signature = sample_request(24, 32, 1)
    unknown_signature.model_spec.signature_name = "nope"
    unknown_output = sample_request(24, 32, 1)
    unknown_output.output_filter.append("nope")
    for request in invalid + [missing, extra, wrong_dtype, wrong_shape, unknown_signature, unknown_output]:
        assert _code(stub, request) == grpc.StatusCode.INVALID_ARGUMENT, request
    unknown_version = sample_request(24, 32, 1)
    unknown_version.model_spec.version.value = 99
    for request in [sample_request(24, 32, 1, model_name="nope"), unknown_version]:
        assert _code(stub, request) == grpc.StatusCode.NOT_FOUND  # what TF Serving answers
    too_big = sample_request(24, 32, 1)
    too_big.inputs["padding"].CopyFrom(tf.make_tensor_proto(np.zeros(2 << 20, np.uint8)))
    assert _code(stub, too_big) == grpc.StatusCode.RESOURCE_EXHAUSTED  # over the request size bound
    np.testing.assert_array_equal(predict_image(stub, 24, 32, 1, timeout=RPC_TIMEOUT), expected(sampler, 24, 32, 1))


@pytest.mark.parametrize("request_args,reason", [
    ((24, 32, 1, 0, "singan", 4.5), "noise_scale must be in 0..4; got] [4.5]"),
    ((30, 44, 1, 1, "singan", -1.0), "noise_scale must be in 0..4; got] [-1]"),
    ((24, 200, 1, 1, "singan", 1.5), "height must be in"),
])
def test_refusals_carry_the_reason_on_one_line(target: str, request_args, reason):
    with pytest.raises(grpc.RpcError) as caught:
        connect(target).Predict(sample_request(*request_args), timeout=RPC_TIMEOUT)
    details = caught.value.details()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and reason in details and "\n" not in details


def test_model_metadata_and_status(target: str):
    stub = connect(target)
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "singan"
    response = stub.GetModelMetadata(request, timeout=RPC_TIMEOUT)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    default = signatures.signature_def["serving_default"]
    assert set(default.inputs) == {"height", "width", "seed", "scale_from"}
    assert default.outputs["image"].dtype == tf.uint8.as_datatype_enum
    noise_input = signatures.signature_def["sample_with_noise_scale"].inputs["noise_scale"]
    assert noise_input.dtype == tf.float32.as_datatype_enum
    assert {"sample", "sample_by_factor", "reconstruct", "limits"} <= set(signatures.signature_def)
    assert response.model_spec.version.value == 1

    with grpc.insecure_channel(target) as channel:
        status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
            get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "singan"}), timeout=RPC_TIMEOUT
        )
    assert [(s.version, s.state) for s in status.model_version_status] == [
        (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE)
    ]


def test_serve_refuses_what_it_cannot_serve(target: str, export_base: Path, tmp_path: Path):
    result = CliRunner().invoke(cli, ["serve", str(tmp_path)])
    assert result.exit_code == 2 and "no export in" in result.output
    (tmp_path / "broken" / "1").mkdir(parents=True)
    result = CliRunner().invoke(cli, ["serve", str(tmp_path)])
    assert result.exit_code == 2 and "cannot load" in result.output
    with pytest.raises(SinganError, match="cannot listen"):
        ModelServer(export_base, port=int(target.split(":")[1])).start()  # the port the fixture holds


def _read_line(stream, deadline: float) -> str:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    return lines.get(timeout=max(deadline - time.monotonic(), 0))


def test_serve_and_client_commands_with_sigterm(export_base: Path, sampler: Sampler, tmp_path: Path):
    """The real commands end to end: `serve` in its own process, `client` writing a PNG, then SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "singan_tf.cli.main", "serve", str(export_base), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = _read_line(process.stdout, time.monotonic() + 120)
        assert "127.0.0.1:" in line, (line, process.poll())
        port = int(line.split("127.0.0.1:")[1].split()[0])
        out = tmp_path / "served.png"
        result = CliRunner().invoke(cli, ["client", "--target", f"127.0.0.1:{port}", "--height", "30",
                                          "--width", "60", "--seed", "9", "--out", str(out)])
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(np.asarray(Image.open(out)), expected(sampler, 30, 60, 9))
        result = CliRunner().invoke(cli, ["client", "--target", f"127.0.0.1:{port}", "--height", "30", "--width",
                                          "44", "--seed", "9", "--scale-from", "1", "--noise-scale", "1.5",
                                          "--out", str(out)])
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(np.asarray(Image.open(out)), expected(sampler, 30, 44, 9, 1, 1.5))
        result = CliRunner().invoke(cli, ["client", "--target", f"127.0.0.1:{port}", "--height", "1000",
                                          "--width", "60", "--out", str(out)])
        assert result.exit_code == 2 and "INVALID_ARGUMENT" in result.output
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=30)
        assert process.returncode == 0 and "stopped" in stdout
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _export_from_before_noise_scale(model_dir: Path, base: Path) -> None:
    """An export as `singan-tf export` wrote it before noise_scale: no sample_with_noise_scale signature,
    and int32 limits only."""
    from singan_tf.applications.common import load_model
    from singan_tf.applications.harmonize import MaskedInjection
    from singan_tf.applications.masks import HARMONIZATION_RADIUS
    from singan_tf.export.saved_model import PyramidModule, signatures

    model = load_model(model_dir)
    module = PyramidModule(model.sampler, MaskedInjection(model.pyramid, model.real, HARMONIZATION_RADIUS))
    old = {key: function for key, function in signatures(module).items() if key != "sample_with_noise_scale"}
    old["limits"] = tf.function(lambda: {k: v for k, v in module.limits().items() if k != "max_noise_scale"},
                                input_signature=[])
    tf.saved_model.save(module, str(base / "singan" / "1"), signatures=old)


def test_exports_from_before_noise_scale_still_serve(tiny_model: Path, sampler: Sampler, tmp_path: Path):
    _export_from_before_noise_scale(tiny_model, tmp_path)
    server = ModelServer(tmp_path, port=0, workers=2)
    target = f"127.0.0.1:{server.start()}"
    try:
        stub = connect(target)
        for height, width, scale_from in [(30, 60, 0), (24, 32, 1)]:
            np.testing.assert_array_equal(predict_image(stub, height, width, 2, scale_from, timeout=RPC_TIMEOUT),
                                          expected(sampler, height, width, 2, scale_from))
        with pytest.raises(SinganError, match="no sample_with_noise_scale signature.*re-export"):
            predict_image(stub, 24, 32, 2, noise_scale=1.5, timeout=RPC_TIMEOUT)
        out = tmp_path / "x.png"
        result = CliRunner().invoke(cli, ["client", "--target", target, "--height", "24", "--width", "32",
                                          "--noise-scale", "1.5", "--out", str(out)])
        assert result.exit_code == 2 and "re-export" in result.output.splitlines()[-1], result.output
        assert not out.exists()
    finally:
        server.stop(grace=1)
