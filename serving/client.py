"""A client for a singan-tf export behind TF Serving or `singan-tf serve`, on the stock
tensorflow-serving-api stubs.

Protocol (gRPC, tensorflow.serving.PredictionService/Predict):
    model_spec  {name: "singan", signature_name: "serving_default"}
    inputs      height: DT_INT32 scalar, width: DT_INT32 scalar, seed: DT_INT64 scalar,
                scale_from: DT_INT32 scalar (0 = fully random)
    outputs     image: DT_UINT8 [1, height, width, 3]
The signature "sample" is the same without scale_from. Out-of-range sizes get INVALID_ARGUMENT.
"""

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

MAX_RESPONSE_BYTES = 64 << 20  # gRPC's default 4 MB is too small for large images


def connect(target: str) -> prediction_service_pb2_grpc.PredictionServiceStub:
    """A stub on an insecure channel to HOST:PORT (e.g. localhost:8500, TF Serving's gRPC port)."""
    channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", MAX_RESPONSE_BYTES)])
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def sample_request(height: int, width: int, seed: int, scale_from: int = 0,
                   model_name: str = "singan") -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = "serving_default"
    for key, value, dtype in (("height", height, tf.int32), ("width", width, tf.int32),
                              ("seed", seed, tf.int64), ("scale_from", scale_from, tf.int32)):
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value, dtype))
    return request


def predict_image(stub: prediction_service_pb2_grpc.PredictionServiceStub, height: int, width: int, seed: int,
                  scale_from: int = 0, model_name: str = "singan", timeout: float = 60.0) -> np.ndarray:
    """uint8 [height, width, 3]; raises grpc.RpcError (e.g. INVALID_ARGUMENT for a size the model refuses)."""
    response = stub.Predict(sample_request(height, width, seed, scale_from, model_name), timeout=timeout)
    return tf.make_ndarray(response.outputs["image"])[0]
