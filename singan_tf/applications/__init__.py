"""The paper's applications of one trained pyramid: harmonization, editing, paint-to-image (all by
injecting an image at an intermediate scale), super-resolution and animation.

Each module holds the pure-TensorFlow core of one application (usable eagerly or inside a
tf.function) and the function that runs it on a user's images; `singan_tf.api` exposes those as
methods of the model, and `common.InjectionResult.save` writes the official files.
"""
