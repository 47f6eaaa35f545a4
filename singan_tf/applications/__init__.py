"""The paper's applications of one trained pyramid: harmonization, editing, paint-to-image (all by
injecting an image at an intermediate scale), super-resolution and animation.

Each module holds the pure-TensorFlow core of one application (usable eagerly or inside a
tf.function) and the function that reads the user's files and writes the results.
"""
