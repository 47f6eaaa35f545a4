"""Measuring speed (`singan-tf bench`): per-scale iteration times against this machine's own
convolution peak, and the official code's reference figures with the machine they came from.

timing          the benchmark itself and its table
reference_runs  the official code's measured figures, and whether this machine is of their kind
"""
