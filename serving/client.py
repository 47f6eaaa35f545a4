"""A client for a singan-tf export behind TF Serving or `singan-tf serve`, on the stock
tensorflow-serving-api stubs.

Protocol (gRPC, tensorflow.serving.PredictionService/Predict):
    model_spec  {name: "singan", signature_name: "serving_default"}
    inputs      height: DT_INT32 scalar, width: DT_INT32 scalar, seed: DT_INT64 scalar,
                scale_from: DT_INT32 scalar (0 = fully random)
    outputs     image: DT_UINT8 [1, height, width, 3]
Signature "sample_with_noise_scale" takes noise_scale: DT_FLOAT scalar too (0..4, 1 = serving_default);
"sample" is serving_default without scale_from. Refused requests get INVALID_ARGUMENT.
"""

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from singan_tf.errors import SinganError

MAX_RESPONSE_BYTES = 64 << 20  # gRPC's default 4 MB is too small for large images
DEFAULT_SIGNATURE = "serving_default"
NOISE_SCALE_SIGNATURE = "sample_with_noise_scale"


def connect(target: str) -> prediction_service_pb2_grpc.PredictionServiceStub:
    """A stub on an insecure channel to HOST:PORT (e.g. localhost:8500, TF Serving's gRPC port)."""
    channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", MAX_RESPONSE_BYTES)])
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def sample_request(height: int, width: int, seed: int, scale_from: int = 0, model_name: str = "singan",
                   noise_scale: float = 1.0) -> predict_pb2.PredictRequest:
    """serving_default for noise_scale 1, so exports made before noise_scale existed still answer;
    sample_with_noise_scale otherwise."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    inputs = [("height", height, tf.int32), ("width", width, tf.int32), ("seed", seed, tf.int64),
              ("scale_from", scale_from, tf.int32)]
    if noise_scale == 1:
        request.model_spec.signature_name = DEFAULT_SIGNATURE
    else:
        request.model_spec.signature_name = NOISE_SCALE_SIGNATURE
        inputs.append(("noise_scale", noise_scale, tf.float32))
    for key, value, dtype in inputs:
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value, dtype))
    return request


def predict_image(stub: prediction_service_pb2_grpc.PredictionServiceStub, height: int, width: int, seed: int,
                  scale_from: int = 0, model_name: str = "singan", timeout: float = 60.0,
                  noise_scale: float = 1.0) -> np.ndarray:
    """uint8 [height, width, 3]; raises grpc.RpcError (e.g. INVALID_ARGUMENT for a size the model refuses),
    or SinganError when noise_scale != 1 is asked of an export that predates it."""
    request = sample_request(height, width, seed, scale_from, model_name, noise_scale)
    try:
        response = stub.Predict(request, timeout=timeout)
    except grpc.RpcError as err:
        # TF Serving (FAILED_PRECONDITION) and `singan-tf serve` (INVALID_ARGUMENT) both name the
        # missing signature and say "not found".
        details = err.details() or ""
        if request.model_spec.signature_name == NOISE_SCALE_SIGNATURE and NOISE_SCALE_SIGNATURE in details \
                and "not found" in details:
            raise SinganError(f"model {model_name!r} has no {NOISE_SCALE_SIGNATURE} signature (exported before "
                              f"noise_scale existed): re-export it with `singan-tf export` to use a noise scale "
                              f"other than 1") from None
        raise
    return tf.make_ndarray(response.outputs["image"])[0]
