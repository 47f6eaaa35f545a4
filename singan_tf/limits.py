"""What a trained model serves, as plain numbers: free of TensorFlow, so the command line can state
them in --help without loading it. The Sampler enforces them (in words and in its graph)."""

# Requests may be at most this many times the training size per side: memory grows with the area
# times 128 channels at the fine scales, and past this the model only repeats its patches anyway.
MAX_UPSCALE = 4

# The largest noise_scale (the multiplier of the random scales' noise amplitude). Samples turn to
# noise well before it on the models tried; the cap keeps a typo (15 for 1.5) from passing.
MAX_NOISE_SCALE = 4.0
