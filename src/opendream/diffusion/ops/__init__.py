"""The built-in diffusion ops. Importing this registers them; it does not import torch."""

from opendream.diffusion.ops.dream import dream
from opendream.diffusion.ops.edit import edit
from opendream.diffusion.ops.img2img import img2img
from opendream.diffusion.ops.mask_and_inpaint import mask_and_inpaint

__all__ = ["dream", "edit", "img2img", "mask_and_inpaint"]
