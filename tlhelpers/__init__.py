"""Helpers for the book *Transfer learning with TensorFlow and Keras 3*."""
