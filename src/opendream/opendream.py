"""Compatibility with the original module path: ``from opendream import opendream`` then
``@opendream.define_op``."""

from opendream.core.layer import ImageLayer, Layer, MaskLayer
from opendream.core.registry import define_op, op

__all__ = ["ImageLayer", "Layer", "MaskLayer", "define_op", "op"]
