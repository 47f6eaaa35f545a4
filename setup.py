"""Installs one import name, `singan_tf`; the top-level cli/, export/ and serving/ folders become its
sub-packages so nothing generic (`cli`, `export`) lands in site-packages."""

from setuptools import find_packages, setup

with open("requirements.txt") as f:
    requirements = [line.split("#")[0].strip() for line in f if line.split("#")[0].strip()]

setup(
    name="singan-tf",
    version="0.1.0",
    description="SinGAN (Shaham, Dekel, Michaeli, ICCV 2019) in TensorFlow 2 / Keras 3: train on one image, "
    "sample at any size, deploy as one SavedModel",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["singan_tf", "singan_tf.*"])
    + ["singan_tf.cli", "singan_tf.export", "singan_tf.serving", "singan_tf.assets"],
    package_dir={
        "singan_tf": "singan_tf",
        "singan_tf.cli": "cli",
        "singan_tf.export": "export",
        "singan_tf.serving": "serving",
        "singan_tf.assets": "assets",
    },
    package_data={"singan_tf.assets": ["*.png", "*.md"]},
    install_requires=requirements,
    # `train-many` schedules its images with Ray, `app` serves the web page with Gradio; nothing else needs them.
    extras_require={"cluster": ["ray==2.60.0"], "app": ["gradio==6.31.0"]},
    entry_points={"console_scripts": ["singan-tf = singan_tf.cli.main:main"]},
)
