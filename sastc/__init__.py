"""sastc: Sharpness-Aware Surrogate Training and a bit-exact integer compiler for SNNs."""

__version__ = "0.1.0"
