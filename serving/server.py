"""TF Serving's gRPC API in-process, for machines without the tensorflow_model_server binary.

It implements what a singan-tf client needs from TF Serving, with TF Serving's status codes, so one
client works against both: PredictionService.Predict and GetModelMetadata, ModelService.GetModelStatus
(Classify, Regress, MultiInference and HandleReloadConfigRequest answer UNIMPLEMENTED).

Exports are read from EXPORT_BASE/NAME/VERSION/ (what `singan-tf export` writes); the newest version of
each NAME is loaded once with tf.saved_model.load. Requests are bounded in size and number: a request
is a few scalars, a response at most one image, and at most `max_concurrent_rpcs` RPCs are in flight
(more get RESOURCE_EXHAUSTED) on `workers` threads.
"""

from __future__ import annotations

import dataclasses
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from singan_tf.errors import SinganError
from singan_tf.export.saved_model import SERVING_TAG, model_versions

DEFAULT_SIGNATURE = "serving_default"
MAX_REQUEST_BYTES = 1 << 20
MAX_RESPONSE_BYTES = 64 << 20  # the largest servable image (4x a 250 px training size) is ~2.3 MB


@dataclasses.dataclass
class Servable:
    name: str
    version: int
    model: Any  # what tf.saved_model.load returns
    signature_defs: dict[str, Any]  # SignatureDef protos, as TF Serving reports them


def load_servable(name: str, version_dir: Path) -> Servable:
    try:
        saved_model = saved_model_pb2.SavedModel()
        saved_model.ParseFromString((version_dir / "saved_model.pb").read_bytes())
        model = tf.saved_model.load(str(version_dir))
    except (OSError, DecodeError, tf.errors.OpError) as err:
        raise SinganError(f"cannot load {version_dir}: {str(err).strip().splitlines()[0]}") from None
    meta_graph = next((m for m in saved_model.meta_graphs if SERVING_TAG in m.meta_info_def.tags), None)
    if meta_graph is None or "limits" not in model.signatures:
        raise SinganError(f"{version_dir} is not a singan-tf export (see `singan-tf export`)")
    return Servable(name, int(version_dir.name), model, dict(meta_graph.signature_def))


def find_exports(export_base: Path) -> dict[str, Path]:
    """NAME -> newest version folder, for EXPORT_BASE (holding NAME/VERSION/) or one EXPORT_BASE/NAME."""
    export_base = Path(export_base)
    if model_versions(export_base):
        bases = [export_base]
    else:
        bases = [p for p in sorted(export_base.iterdir()) if model_versions(p)] if export_base.is_dir() else []
    if not bases:
        raise SinganError(f"no export in {export_base}: expected NAME/VERSION/ folders from `singan-tf export`")
    return {base.name: base / str(model_versions(base)[-1]) for base in bases}


def _assertion(message: str) -> str:
    """The Sampler's own words from a graph error ('assertion failed: [...]'), not the node dump."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return next((line for line in lines if line.startswith("assertion failed")), lines[0] if lines else message)


class _Services(prediction_service_pb2_grpc.PredictionServiceServicer, model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, servables: dict[str, Servable]):
        self.servables = servables

    def _servable(self, model_spec, context) -> Servable:
        servable = self.servables.get(model_spec.name)
        version = model_spec.version.value if model_spec.HasField("version") else None
        if servable is None or version not in (None, servable.version):
            wanted = f"{model_spec.name!r}" + ("" if version is None else f" version {version}")
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {wanted}")
        return servable

    def _inputs(self, request, function, key: str, context) -> dict[str, tf.Tensor]:
        specs = function.structured_input_signature[1]
        missing, extra = set(specs) - set(request.inputs), set(request.inputs) - set(specs)
        if missing or extra:
            wanted = ", ".join(f"{k} ({s.dtype.name}, shape {s.shape})" for k, s in sorted(specs.items()))
            problem = f"takes {wanted or 'no inputs'}; missing {sorted(missing)}, extra {sorted(extra)}"
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"signature {key!r} {problem}")
        tensors = {}
        for name, spec in specs.items():
            proto = request.inputs[name]
            if proto.dtype != spec.dtype.as_datatype_enum:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"input {name!r} must be {spec.dtype.name}, got {tf.dtypes.as_dtype(proto.dtype).name}")
            try:
                value = tf.make_ndarray(proto)
            except (ValueError, TypeError) as err:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"input {name!r} is not a valid tensor: {err}")
            if not spec.shape.is_compatible_with(value.shape):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"input {name!r} must have shape {spec.shape}, got {list(value.shape)}")
            tensors[name] = tf.constant(value, spec.dtype)
        return tensors

    def Predict(self, request, context):
        servable = self._servable(request.model_spec, context)
        key = request.model_spec.signature_name or DEFAULT_SIGNATURE
        function = servable.model.signatures.get(key)
        if function is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"signature {key!r} not found; this model has {sorted(servable.model.signatures)}")
        inputs = self._inputs(request, function, key, context)
        wanted = list(request.output_filter) or list(function.structured_outputs)
        unknown = set(wanted) - set(function.structured_outputs)
        if unknown:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"output_filter names unknown outputs {sorted(unknown)}")
        try:
            outputs = function(**inputs)
        except tf.errors.InvalidArgumentError as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, _assertion(err.message))
        except tf.errors.ResourceExhaustedError as err:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, _assertion(err.message))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = key
        for name in wanted:
            response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name].numpy()))
        return response

    def GetModelMetadata(self, request, context):
        servable = self._servable(request.model_spec, context)
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "metadata_field must be ['signature_def']")
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature_def in servable.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature_def)
        response.metadata["signature_def"].Pack(signature_map)
        return response

    def GetModelStatus(self, request, context):
        servable = self._servable(request.model_spec, context)
        response = get_model_status_pb2.GetModelStatusResponse()
        status = response.model_version_status.add()
        status.version = servable.version
        status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        status.status.SetInParent()  # error_code OK, as TF Serving reports it
        return response


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ModelServer:
    """The exports in EXPORT_BASE behind a gRPC port; `start` returns the port (pass 0 for a free one)."""

    def __init__(self, export_base: Path, host: str = "127.0.0.1", port: int = 8500, workers: int = 4,
                 max_concurrent_rpcs: int = 32):
        self.servables = {name: load_servable(name, path) for name, path in find_exports(export_base).items()}
        for servable in self.servables.values():
            _warm_up(servable)
        self.host, self.port = host, port
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="singan-serve"),
            maximum_concurrent_rpcs=max_concurrent_rpcs,
            options=[
                ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
                ("grpc.max_send_message_length", MAX_RESPONSE_BYTES),
                ("grpc.so_reuseport", 0),  # a port in use is an error, not silently shared
            ],
        )
        services = _Services(self.servables)
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(services, self._server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(services, self._server)

    def start(self) -> int:
        address = _address(self.host, self.port)
        try:
            self.port = self._server.add_insecure_port(address)
        except RuntimeError as err:
            raise SinganError(f"cannot listen on {address}: {err}") from None
        if self.port == 0:
            raise SinganError(f"cannot listen on {address}")
        self._server.start()
        return self.port

    def stop(self, grace: float | None = 5.0) -> None:
        """Refuse new RPCs, let running ones finish for up to `grace` seconds, then return."""
        self._server.stop(grace).wait()


def _warm_up(servable: Servable) -> None:
    """One request at the training size, so the first client does not pay for graph optimisation."""
    limits = {k: v for k, v in servable.model.signatures["limits"]().items()}
    servable.model.signatures["sample"](
        height=limits["training_height"], width=limits["training_width"], seed=tf.constant(0, tf.int64)
    )
