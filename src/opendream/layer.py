"""Compatibility with the original module path ``opendream.layer``."""

from opendream.core.layer import ImageLayer, Layer, MaskLayer

__all__ = ["ImageLayer", "Layer", "MaskLayer"]
