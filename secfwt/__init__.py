"""secfwt: what privacy-preserving fine-tuning of transformers costs under two-party MPC.

Measures the system of SecFwT / SecP-Tuning (arXiv 2506.15307) on CrypTen: exact
rounds and bytes, compute time, and estimated time under LAN/WAN link profiles.
"""

__version__ = "0.1.0"
