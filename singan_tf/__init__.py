"""SinGAN in TensorFlow 2 / Keras 3: learn a generative model from a single natural image."""

__version__ = "0.1.0"
