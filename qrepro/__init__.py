"""qrepro: an executable reproducibility report for low-bit neural-network quantization."""

__version__ = "0.1.0"
