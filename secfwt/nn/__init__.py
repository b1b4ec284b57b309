"""Transformer building blocks evaluated on CrypTen tensors, with plaintext twins."""
