"""The bundled demo image, installed with the package so `singan-tf app` offers it anywhere."""
