"""Diffusion backend: model manager, built-in diffusion ops, tiny offline test models.

Imports only Opendream's public API; torch and diffusers are imported inside functions, so
importing this package (or ``opendream.diffusion.ops``) stays fast and works without them."""

from opendream.diffusion import roles as roles  # declares the built-in model roles (stdlib only)
