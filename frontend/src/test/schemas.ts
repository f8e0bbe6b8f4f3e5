import type { JsonSchema } from '../api/types'

/** Op schemas as the server sends them (GET /api/ops). */
export const schemas: Record<string, JsonSchema> = {
 "flatten": {
  "additionalProperties": false,
  "properties": {
   "layers": {
    "type": "array",
    "items": {
     "type": "string"
    },
    "maxItems": 64,
    "x-opendream-layer": "image",
    "title": "Layers"
   },
   "background": {
    "default": "transparent",
    "description": "transparent or #rrggbb",
    "pattern": "^(transparent|#[0-9a-fA-F]{6})$",
    "title": "Background",
    "type": "string"
   }
  },
  "title": "Flatten",
  "type": "object",
  "required": [
   "layers"
  ],
  "x-opendream-inputs": [
   "layers"
  ]
 },
 "mask_and_inpaint": {
  "additionalProperties": false,
  "properties": {
   "mask_layer": {
    "type": "string",
    "x-opendream-layer": "mask",
    "title": "Mask Layer"
   },
   "image_layer": {
    "type": "string",
    "x-opendream-layer": "image",
    "title": "Image Layer"
   },
   "prompt": {
    "description": "What to paint in the mask",
    "maxLength": 4000,
    "title": "Prompt",
    "type": "string",
    "widget": "textarea"
   },
   "negative_prompt": {
    "default": "",
    "description": "What to avoid",
    "maxLength": 4000,
    "title": "Negative Prompt",
    "type": "string",
    "widget": "textarea"
   },
   "strength": {
    "default": 1.0,
    "description": "How much to change inside the mask",
    "exclusiveMinimum": 0,
    "maximum": 1,
    "title": "Strength",
    "type": "number"
   },
   "steps": {
    "default": 20,
    "description": "Denoising steps (scaled by strength)",
    "maximum": 150,
    "minimum": 1,
    "title": "Steps",
    "type": "integer"
   },
   "guidance_scale": {
    "default": 7.5,
    "description": "How closely to follow the prompt",
    "maximum": 30,
    "minimum": 0,
    "title": "Guidance Scale",
    "type": "number"
   },
   "seed": {
    "default": 42,
    "maximum": 4294967295,
    "minimum": 0,
    "title": "Seed",
    "type": "integer"
   },
   "mask_feather": {
    "default": 4,
    "description": "Soft edge width in pixels",
    "maximum": 64,
    "minimum": 0,
    "title": "Mask Feather",
    "type": "integer"
   },
   "model": {
    "default": "",
    "description": "Repo id, folder or .safetensors file; empty = default",
    "title": "Model",
    "type": "string"
   }
  },
  "required": [
   "mask_layer",
   "image_layer",
   "prompt"
  ],
  "title": "Mask and inpaint",
  "type": "object",
  "x-opendream-inputs": [
   "mask_layer",
   "image_layer"
  ]
 },
 "dream": {
  "additionalProperties": false,
  "properties": {
   "prompt": {
    "description": "What to draw",
    "maxLength": 4000,
    "title": "Prompt",
    "type": "string",
    "widget": "textarea"
   },
   "negative_prompt": {
    "default": "",
    "description": "What to avoid",
    "maxLength": 4000,
    "title": "Negative Prompt",
    "type": "string",
    "widget": "textarea"
   },
   "width": {
    "default": 512,
    "description": "Pixels; omitted: the canvas's width",
    "maximum": 2048,
    "minimum": 64,
    "multipleOf": 8,
    "title": "Width",
    "type": "integer",
    "x-opendream-canvas": "width"
   },
   "height": {
    "default": 512,
    "description": "Pixels; omitted: the canvas's height",
    "maximum": 2048,
    "minimum": 64,
    "multipleOf": 8,
    "title": "Height",
    "type": "integer",
    "x-opendream-canvas": "height"
   },
   "steps": {
    "default": 20,
    "description": "Denoising steps",
    "maximum": 150,
    "minimum": 1,
    "title": "Steps",
    "type": "integer"
   },
   "guidance_scale": {
    "default": 7.5,
    "description": "How closely to follow the prompt",
    "maximum": 30,
    "minimum": 0,
    "title": "Guidance Scale",
    "type": "number"
   },
   "scheduler": {
    "default": "euler_a",
    "enum": [
     "euler_a",
     "euler",
     "dpmpp_2m",
     "ddim",
     "unipc"
    ],
    "title": "Scheduler",
    "type": "string"
   },
   "seed": {
    "default": 42,
    "maximum": 4294967295,
    "minimum": 0,
    "title": "Seed",
    "type": "integer"
   },
   "num_images": {
    "default": 1,
    "description": "Each image becomes a layer",
    "maximum": 8,
    "minimum": 1,
    "title": "Num Images",
    "type": "integer"
   },
   "model": {
    "default": "",
    "description": "Repo id, folder or .safetensors file; empty = default",
    "title": "Model",
    "type": "string"
   }
  },
  "required": [
   "prompt"
  ],
  "title": "Dream",
  "type": "object",
  "x-opendream-inputs": []
 },
 "feather_mask": {
  "additionalProperties": false,
  "properties": {
   "mask": {
    "type": "string",
    "x-opendream-layer": "mask",
    "title": "Mask"
   },
   "radius": {
    "default": 8.0,
    "description": "Blur radius of the edge, in pixels",
    "maximum": 256,
    "minimum": 0,
    "title": "Radius",
    "type": "number"
   }
  },
  "title": "Feather mask",
  "type": "object",
  "required": [
   "mask"
  ],
  "x-opendream-inputs": [
   "mask"
  ]
 },
 "load_image": {
  "additionalProperties": false,
  "properties": {
   "asset": {
    "description": "An uploaded picture, by hash",
    "pattern": "^sha256:[0-9a-f]{64}$",
    "title": "Asset",
    "type": "string",
    "x-opendream-asset": true
   }
  },
  "required": [
   "asset"
  ],
  "title": "Image",
  "type": "object",
  "x-opendream-inputs": []
 }
}
