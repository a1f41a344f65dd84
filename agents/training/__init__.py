"""Training: the embedded tiny base model, SFT on oracle answers, GRPO on the env rewards.

torch/transformers/trl are imported inside the functions, so importing this package is light.
"""
