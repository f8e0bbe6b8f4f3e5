"""The op contract: ``@op`` / ``@define_op``, the registry, schemas and validation.

An op is a plain function; its signature is its schema. Layer-typed parameters become
recipe *inputs* (edges of the DAG); every other parameter is a JSON literal in ``params``. A
parameter typed with a pydantic model is a group: its fields are params of their own (flat in
recipes and forms, as FastAPI's query-parameter models are), handed to the op as one model
instance, so ops that ask the same settings declare them once. Definitions are checked when
registered, and errors name the op, the parameter, the file and the line."""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import enum
import inspect
import threading
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

import pydantic
from PIL import Image
from pydantic import ConfigDict, Field

from opendream.core.context import Context
from opendream.core.errors import InvalidParams, OpDefinitionError, OpNotFound
from opendream.core.layer import ImageLayer, Layer, MaskLayer

#: What a layer parameter accepts: an image layer, a mask layer, or ``any`` layer.
InputKind = Literal["image", "mask", "any"]
_LAYER_KINDS: dict[type, InputKind] = {ImageLayer: "image", MaskLayer: "mask", Layer: "any"}
_SCALARS = (str, int, float, bool)
MAX_LAYER_LIST = 64
#: The schema key of a form hint (``textarea``, ``seed``, ``points``, ``box``): ops declare it
#: with ``json_schema_extra``; the bare ``widget`` key extensions wrote before is renamed to it.
WIDGET = "x-opendream-widget"
#: The category of source ops: their pixels are an asset the user provides, not computed.
SOURCE = "source"


@dataclass(frozen=True)
class LayerParam:
    """A layer-typed parameter: an edge of the DAG."""

    name: str
    kind: InputKind
    many: bool
    required: bool


@dataclass(frozen=True)
class OpOutput:
    """One normalised result of an op: a layer kind and its pixels."""

    kind: Literal["image", "mask"]
    image: Image.Image


#: The origin of the ops that ship inside Opendream itself: nothing to install, so workflow
#: files do not name it.
BUILTIN = "builtin"
# The ``from_version`` a migration receives for params recorded by the original Opendream.
ORIGINAL = "original"
#: Schema key of an int param that defaults to the canvas's ``"width"`` or ``"height"``.
CANVAS_HINT = "x-opendream-canvas"


def _fits(prop: dict[str, Any], value: int) -> bool:
    """Whether ``value`` meets a JSON Schema number's bounds and step."""
    step = prop.get("multipleOf")
    return (
        prop.get("minimum", value) <= value <= prop.get("maximum", value)
        and prop.get("exclusiveMinimum", value - 1) < value < prop.get("exclusiveMaximum", value + 1)
        and (not step or value % step == 0)
    )


@dataclass(frozen=True)
class ParamGroup:
    """A parameter typed with a pydantic model: the flat params ``fields`` that make it."""

    name: str
    model: type[pydantic.BaseModel]
    fields: tuple[str, ...]


@dataclass
class OpSpec:
    """Everything the engine and the faces need to know about one registered op."""

    name: str
    title: str
    description: str
    func: Callable[..., Any]
    layer_params: list[LayerParam]
    params_model: type[pydantic.BaseModel]
    param_order: list[str]
    context_param: str | None
    accepts_kwargs: bool
    returns_masks: bool
    file: str
    line: int
    version: str = "1"
    category: str = "other"
    deterministic: bool = True
    groups: tuple[ParamGroup, ...] = ()
    extension: str | None = None
    identity: Callable[[dict, Any], dict] | None = None
    migrate: Callable[[dict, str], dict] | None = None
    #: Defaults that depend on the given params (a model family's steps, guidance ...).
    defaults: Callable[[dict], dict] | None = None
    #: Named sets of values the form offers (``{"title", "values"}``); a recipe records the values.
    presets: list[dict[str, Any]] = field(default_factory=list)
    #: Defined in one of the user's extension folders (it may override a built-in or bundled op).
    user: bool = False
    #: The built-in or bundled op of the same name this user op replaces (set by the registry).
    overrides: OpSpec | None = None
    #: The paid or remote service the op calls (``None``: it runs here). A file's layers of
    #: such ops wait for the user's consent before they run.
    service: str | None = None

    @property
    def remote(self) -> bool:
        return self.service is not None

    def upgrade_params(self, params: dict, from_version: str) -> dict:
        """Params recorded by an older version of this op (or ``"original"`` Opendream), upgraded.
        An op without a migration takes the original's params as they are: original extensions
        load unchanged, so their recorded params are still theirs."""
        if from_version == self.version:
            return params
        if self.migrate is None:
            if from_version == ORIGINAL:
                return params
            raise InvalidParams(
                self.name,
                [
                    {
                        "param": "op_version",
                        "message": f"recorded as {from_version!r}; installed is {self.version!r} and it has no migration",
                    }
                ],
            )
        return self.migrate(dict(params), from_version)

    @property
    def source(self) -> Literal["image", "mask"] | None:
        """What a source op's layer holds (the user's picture or painted mask); None for an op
        that computes its pixels."""
        if self.category != SOURCE:
            return None
        return "mask" if self.returns_masks else "image"

    @property
    def builtin(self) -> bool:
        return self.extension == BUILTIN

    @property
    def provenance(self) -> dict[str, str]:
        """What made a layer, as a workflow records it: ``{}`` for a built-in op, else the
        extension, plus ``overrides`` (the extension it replaces, ``"builtin"`` for a built-in)."""
        if self.builtin or not self.extension:
            return {}
        made_by = {"extension": self.extension}
        if self.overrides is not None:
            made_by["overrides"] = self.overrides.extension or BUILTIN
        return made_by

    @property
    def layer_param_names(self) -> list[str]:
        return [p.name for p in self.layer_params]

    def describe(self) -> dict:
        """The op as listed by ``opendream ops --json`` and ``GET /api/ops``."""
        return {
            "name": self.name,
            "title": self.title,
            "version": self.version,
            "category": self.category,
            "description": self.description,
            "deterministic": self.deterministic,
            "source": self.source,
            "remote": self.remote,
            "service": self.service,
            "extension": self.extension,
            "overrides": self.overrides.extension if self.overrides else None,
            "schema": self.schema(),
        }

    def schema(self) -> dict:
        """JSON Schema of the form: params from pydantic plus layer pickers marked
        ``x-opendream-layer``. Layer properties hold layer ids."""
        schema = self.params_model.model_json_schema()
        _namespace_widgets(schema)
        schema["title"] = self.title
        properties: dict[str, Any] = {}
        required = list(schema.get("required", []))
        param_props = schema.get("properties", {})
        for name in self.param_order:
            layer = next((p for p in self.layer_params if p.name == name), None)
            if layer is None:
                properties[name] = param_props[name]
                continue
            item = {
                "type": "string",
                "x-opendream-layer": layer.kind,
                "title": name.replace("_", " ").title(),
            }
            if layer.many:
                item = {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": MAX_LAYER_LIST,
                    "x-opendream-layer": layer.kind,
                    "title": item["title"],
                }
            properties[name] = item
            if layer.required:
                required.append(name)
        schema["properties"] = properties
        schema["required"] = [n for n in self.param_order if n in required]
        schema["additionalProperties"] = self.accepts_kwargs
        schema["x-opendream-inputs"] = self.layer_param_names
        if self.presets:
            schema["x-opendream-presets"] = self.presets
        return schema

    def validate_params(
        self, params: dict[str, Any], canvas: tuple[int, int] | None = None
    ) -> dict[str, Any]:
        """Validated params with defaults filled in (the canonical form stored in recipes).
        An omitted param takes, in this order: the canvas's width or height when it is declared
        ``x-opendream-canvas`` and that fits its bounds (so the recipe records the size it was
        made at); what the op's ``defaults`` hook says for the given params (the model's
        family's steps, say); the op's own default."""
        if not isinstance(params, dict):
            raise InvalidParams(self.name, [{"param": "params", "message": "has to be an object"}])
        declared = self.params_model.model_fields
        suggested = self.defaults(params) if self.defaults is not None else {}
        params = {
            **{k: v for k, v in suggested.items() if k in declared},
            **(self.canvas_defaults(canvas) if canvas is not None else {}),
            **params,
        }
        misplaced = [n for n in params if n in self.layer_param_names]
        if misplaced:
            raise InvalidParams(
                self.name,
                [{"param": n, "message": "is a layer parameter; pass it in `inputs`"} for n in misplaced],
            )
        try:
            model = self.params_model.model_validate(params)
        except pydantic.ValidationError as exc:
            raise InvalidParams(self.name, _pydantic_errors(exc)) from None
        data = model.model_dump(mode="json")
        for group in self.groups:
            # A group's own validators (one field against another) run here, before any compute.
            try:
                self.group_value(group, data)
            except pydantic.ValidationError as exc:
                raise InvalidParams(self.name, _pydantic_errors(exc)) from None
        if self.accepts_kwargs and model.model_extra:
            data.update(model.model_extra)
        return data

    @staticmethod
    def group_value(group: ParamGroup, params: dict[str, Any]) -> pydantic.BaseModel:
        """The instance of ``group`` that its flat values in ``params`` make."""
        return group.model.model_validate({name: params[name] for name in group.fields if name in params})

    def canvas_defaults(self, canvas: tuple[int, int]) -> dict[str, int]:
        """The canvas-sized values of the params declared ``x-opendream-canvas`` that fit."""
        sides = dict(zip(("width", "height"), canvas, strict=True))
        found = {}
        for name, prop in self.params_model.model_json_schema().get("properties", {}).items():
            side = prop.get(CANVAS_HINT)
            if side in sides and _fits(prop, sides[side]):
                found[name] = sides[side]
        return found

    def validate_inputs(self, inputs: dict[str, Any]) -> dict[str, str | list[str]]:
        """Check the shape of ``inputs`` (ids only; the project checks that they exist)."""
        if not isinstance(inputs, dict):
            raise InvalidParams(self.name, [{"param": "inputs", "message": "has to be an object"}])
        errors = [
            {"param": n, "message": "is not a layer parameter of this op"}
            for n in inputs
            if n not in self.layer_param_names
        ]
        clean: dict[str, str | list[str]] = {}
        for param in self.layer_params:
            value = inputs.get(param.name)
            if value is None:
                if param.required:
                    errors.append({"param": param.name, "message": f"a {param.kind} layer is required"})
                continue
            if param.many:
                if (
                    not isinstance(value, list)
                    or not all(isinstance(v, str) for v in value)
                    or len(value) > MAX_LAYER_LIST
                ):
                    errors.append(
                        {
                            "param": param.name,
                            "message": f"has to be a list of at most {MAX_LAYER_LIST} layer ids",
                        }
                    )
                    continue
            elif not isinstance(value, str):
                errors.append({"param": param.name, "message": "has to be a layer id (a string)"})
                continue
            clean[param.name] = value
        if errors:
            raise InvalidParams(self.name, errors)
        return clean

    def call(
        self, params: dict[str, Any], layers: dict[str, Layer | list[Layer] | None], ctx: Context
    ) -> list[OpOutput]:
        """Run the function with validated params and resolved input layers; normalise the result."""
        kwargs: dict[str, Any] = dict(params)
        if "device" in kwargs and kwargs["device"] is None:
            kwargs["device"] = ctx.device
        for group in self.groups:
            kwargs[group.name] = self.group_value(group, kwargs)
            for name in group.fields:
                kwargs.pop(name, None)
        kwargs.update(layers)
        if self.context_param:
            kwargs[self.context_param] = ctx
        return normalise_outputs(self.name, self.func(**kwargs), self.returns_masks)


# Pydantic's messages ("Input should be a multiple of 8") reworded in the style of every other
# message Opendream gives about a parameter ("has to be at most 2048", "is required"), by error
# type; the values come from the error's context.
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a parameter of this op",
    "greater_than": "has to be more than {gt}",
    "greater_than_equal": "has to be at least {ge}",
    "less_than": "has to be less than {lt}",
    "less_than_equal": "has to be at most {le}",
    "multiple_of": "has to be a multiple of {multiple_of}",
    "finite_number": "has to be a finite number",
    "int_type": "has to be a whole number",
    "int_parsing": "has to be a whole number",
    "int_from_float": "has to be a whole number",
    "float_type": "has to be a number",
    "float_parsing": "has to be a number",
    "bool_type": "has to be true or false",
    "bool_parsing": "has to be true or false",
    "string_type": "has to be text",
    "string_too_short": "has to be at least {min_length} characters",
    "string_too_long": "has to be at most {max_length} characters",
    "string_pattern_mismatch": "has to match {pattern}",
    "too_short": "has to have at least {min_length} items",
    "too_long": "has to have at most {max_length} items",
    "list_type": "has to be a list",
    "dict_type": "has to be an object",
    "literal_error": "has to be one of {expected}",
    "enum": "has to be one of {expected}",
}


def _namespace_widgets(schema: dict[str, Any]) -> None:
    """Rename each ``widget`` hint in ``schema`` and its subschemas to ``x-opendream-widget``."""
    if isinstance(schema.get("widget"), str):
        schema.setdefault(WIDGET, schema.pop("widget"))
    for key in ("properties", "$defs"):
        for sub in schema.get(key, {}).values():
            _namespace_widgets(sub)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            _namespace_widgets(sub)
    if isinstance(schema.get("items"), dict):
        _namespace_widgets(schema["items"])


def _message(err: Any) -> str:
    template = _MESSAGES.get(err["type"])
    if template is not None:
        try:
            return template.format(**err.get("ctx", {}))
        except KeyError:
            pass
    message = str(err["msg"]).removeprefix("Value error, ")
    if message.startswith("Input should "):
        message = "has to " + message.removeprefix("Input should ")
    return message[:1].lower() + message[1:]


def _pydantic_errors(exc: pydantic.ValidationError) -> list[dict]:
    return [
        {"param": ".".join(str(p) for p in err["loc"]) or "params", "message": _message(err)}
        for err in exc.errors()
    ]


def normalise_outputs(op_name: str, result: Any, returns_masks: bool) -> list[OpOutput]:
    """Layer, list of layers, PIL image or list of images -> a list of ``OpOutput``."""
    items = result if isinstance(result, list | tuple) else [result]
    outputs = []
    for item in items:
        if isinstance(item, Layer):
            kind = "mask" if isinstance(item, MaskLayer) else "image"
            image = item.get_image()
        elif isinstance(item, Image.Image):
            kind = "mask" if returns_masks and item.mode == "L" else "image"
            image = item
        else:
            raise TypeError(
                f"op {op_name!r} returned {type(item).__name__}; "
                "return a Layer, a list of layers, a PIL image or a list of images"
            )
        if kind == "mask" and image.mode != "L":
            image = image.convert("L")
        if kind == "image" and image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGB")
        outputs.append(OpOutput(kind=kind, image=image))
    if not outputs:
        raise ValueError(f"op {op_name!r} returned no layers")
    return outputs


# --- building a spec from a function -------------------------------------------------------


def _layer_annotation(annotation: Any) -> tuple[InputKind, bool, bool] | None:
    """(kind, many, optional) when ``annotation`` is a layer type, else ``None``."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            annotation, optional = args[0], True
            origin = typing.get_origin(annotation)
    if annotation in _LAYER_KINDS:
        return _LAYER_KINDS[annotation], False, optional
    if origin is list:
        (item,) = typing.get_args(annotation) or (None,)
        if item in _LAYER_KINDS:
            return _LAYER_KINDS[item], True, optional
    return None


def _check_param_type(annotation: Any) -> bool:
    """True when ``annotation`` is one of the allowed JSON-literal parameter types."""
    if annotation in _SCALARS:
        return True
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return all(isinstance(a, _SCALARS) for a in typing.get_args(annotation))
    if origin is Annotated:
        return _check_param_type(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _check_param_type(args[0])
    if origin is list:  # a list of flat records, e.g. LoRAs: [{"model": ..., "weight": ...}]
        (item,) = typing.get_args(annotation) or (None,)
        return _is_flat_record(item)
    return False


def _is_flat_record(annotation: Any) -> bool:
    """A pydantic model whose fields are all allowed scalar parameter types."""
    return (
        inspect.isclass(annotation)
        and issubclass(annotation, pydantic.BaseModel)
        and all(_check_param_type(f.annotation) for f in annotation.model_fields.values())
    )


def _infer_from_default(default: Any, compat: bool) -> Any:
    if default is inspect.Parameter.empty:
        # The original Opendream accepted hint-less, default-less params (e.g. `prompt`) as text.
        return str if compat else None
    if default is None:
        return str | None
    for scalar in (bool, int, float, str):
        if type(default) is scalar:
            return scalar
    return None


def build_spec(
    func: Callable[..., Any],
    *,
    name: str | None = None,
    returns: Literal["image", "mask"] | None = None,
    compat: bool = False,
) -> OpSpec:
    """Inspect ``func`` and build its ``OpSpec`` (what ``op`` declares beside the function
    takes its defaults: version 1, a title from the name, the docstring's first paragraph);
    raise ``OpDefinitionError`` naming file and line."""
    op_name = name or func.__name__
    code = getattr(func, "__code__", None)
    file = code.co_filename if code else "<unknown>"
    line = code.co_firstlineno if code else 0

    def fail(message: str) -> OpDefinitionError:
        return OpDefinitionError(f"op {op_name!r}: {message}", file=file, line=line)

    if not op_name.isidentifier():
        raise fail("the name has to be a Python identifier")
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:
        raise fail(f"cannot resolve type hints ({exc})") from None
    signature = inspect.signature(func)

    fields: dict[str, Any] = {}
    layer_params: list[LayerParam] = []
    order: list[str] = []
    groups: list[ParamGroup] = []
    context_param = None
    accepts_kwargs = False
    for pname, param in signature.parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            accepts_kwargs = True
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        annotation = hints.get(pname, inspect.Parameter.empty)
        if annotation is Context or (annotation is inspect.Parameter.empty and pname == "ctx"):
            context_param = pname
            continue
        layer = _layer_annotation(annotation)
        if layer is not None:
            kind, many, optional = layer
            required = param.default is inspect.Parameter.empty and not optional
            layer_params.append(LayerParam(pname, kind, many, required))
            order.append(pname)
            continue
        if _is_group(annotation):
            try:
                group_fields = _group_fields(annotation, param.default)
            except ValueError as exc:
                raise fail(f"parameter group {pname!r}: {exc}") from None
            taken = sorted(set(group_fields) & {*fields, *signature.parameters})
            if taken:
                raise fail(f"parameter group {pname!r} declares {taken}, which the op already has")
            fields.update(group_fields)
            order.extend(group_fields)
            groups.append(ParamGroup(pname, annotation, tuple(group_fields)))
            continue
        if annotation is inspect.Parameter.empty:
            annotation = _infer_from_default(param.default, compat)
            if annotation is None:
                raise fail(
                    f"parameter {pname!r} has no type hint and no default to infer one from; "
                    "add a hint such as `str` or `int`"
                )
        if not _check_param_type(annotation):
            raise fail(
                f"parameter {pname!r} has unsupported type {annotation!r}; use str, int, float, bool, "
                "Literal, Enum, Optional, Annotated[..., Field(...)], a list of pydantic models of those, "
                "or a layer type"
            )
        default = param.default
        if pname == "device":
            # `device` follows the runtime unless the recipe names one (original ops default to "mps").
            annotation, default = str | None, None
        fields[pname] = (annotation, ... if default is inspect.Parameter.empty else default)
        order.append(pname)

    returns_masks = returns == "mask" or _returns_masks(hints.get("return"))
    config = ConfigDict(extra="allow" if accepts_kwargs else "forbid", title=op_name)
    try:
        model = pydantic.create_model(f"{op_name}_params", __config__=config, **fields)
        model.model_json_schema()
    except Exception as exc:
        raise fail(f"cannot build a schema ({exc})") from None
    doc = inspect.getdoc(func) or ""
    return OpSpec(
        name=op_name,
        title=op_name.replace("_", " ").title(),
        description=doc.split("\n\n")[0],
        func=func,
        layer_params=layer_params,
        params_model=model,
        param_order=order,
        context_param=context_param,
        accepts_kwargs=accepts_kwargs,
        returns_masks=returns_masks,
        file=file,
        line=line,
        groups=tuple(groups),
    )


def _is_group(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, pydantic.BaseModel)


def _group_fields(group: type[pydantic.BaseModel], default: Any) -> dict[str, Any]:
    """The flat params of a group, as ``create_model`` takes them. A default instance of the
    group gives the params' defaults; raises ``ValueError`` on a field of a type a param
    cannot have."""
    if default is not inspect.Parameter.empty and not isinstance(default, group):
        raise ValueError(f"the default has to be a {group.__name__} instance, not {default!r}")
    flat: dict[str, Any] = {}
    for name, info in group.model_fields.items():
        if not _check_param_type(info.annotation):
            raise ValueError(f"field {name!r} has unsupported type {info.annotation!r}")
        if isinstance(default, group):
            info = copy.copy(info)
            info.default = getattr(default, name)
        flat[name] = (info.annotation, info)
    return flat


def _returns_masks(annotation: Any) -> bool:
    if annotation is MaskLayer:
        return True
    return typing.get_origin(annotation) is list and typing.get_args(annotation)[:1] == (MaskLayer,)


# --- the registry ----------------------------------------------------------------------------


@dataclass
class OpRegistry:
    """Registered ops by name. Registration happens at import time of the defining module: a
    bare ``@op`` registers into the registry whose ``origin`` block is importing the module
    (the loaders open one per module), else into the global ``REGISTRY``.

    ``ops`` holds the op each name runs. An op from a user's extension file replaces a
    built-in or bundled op of the same name (that is how a user's ``dream`` swaps in DALL-E);
    ``use_builtin`` names the ops whose user override is switched off again."""

    ops: dict[str, OpSpec] = field(default_factory=dict)
    use_builtin: set[str] = field(default_factory=set)
    _base: dict[str, OpSpec] = field(default_factory=dict, repr=False)
    _user: dict[str, OpSpec] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _origin: str | None = None
    _user_origin: bool = False

    def register(self, spec: OpSpec) -> OpSpec:
        with self._lock:
            spec.extension = spec.extension or self._origin
            spec.user = spec.user or self._user_origin
            table = self._user if spec.user else self._base
            existing = table.get(spec.name)
            if existing is not None and existing.file != spec.file:
                raise OpDefinitionError(
                    f"op {spec.name!r} is already defined in {existing.file}:{existing.line}"
                    f" (extension {existing.extension!r}); rename one of them",
                    file=spec.file,
                    line=spec.line,
                )
            table[spec.name] = spec
            self._select(spec.name)
            return spec

    def _select(self, name: str) -> None:
        """Make ``ops[name]`` the user's op when there is one (unless switched off), else the base."""
        user, base = self._user.get(name), self._base.get(name)
        if user is not None:
            user.overrides = base
        active = base if base is not None and (user is None or name in self.use_builtin) else user
        if active is None:
            self.ops.pop(name, None)
        else:
            self.ops[name] = active

    def unregister_file(self, file: str) -> None:
        with self._lock:
            for table in (self._user, self._base):
                for name in [n for n, s in table.items() if s.file == file]:
                    del table[name]
                    self._select(name)

    def all_specs(self) -> list[OpSpec]:
        """Every registered op, including those an override (or switching it off) set aside."""
        with self._lock:
            return [*self._base.values(), *self._user.values()]

    def overriding(self) -> list[OpSpec]:
        """The user ops that share their name with a built-in or bundled op, active or not."""
        with self._lock:
            return [s for s in self._user.values() if s.overrides is not None]

    def set_use_builtin(self, names: set[str]) -> None:
        """Run the built-in or bundled op instead of the user's override for each of ``names``."""
        with self._lock:
            changed = names ^ self.use_builtin
            self.use_builtin = set(names)
            for name in changed:
                self._select(name)

    def get(self, name: str) -> OpSpec:
        try:
            return self.ops[name]
        except KeyError:
            raise OpNotFound(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self.ops

    def __iter__(self) -> Iterator[OpSpec]:
        return iter(sorted(self.ops.values(), key=lambda s: (s.category, s.name)))

    def missing(self, names: list[str]) -> list[str]:
        return sorted({n for n in names if n not in self.ops})

    def copy(self) -> OpRegistry:
        """A new registry running the same ops with the same overrides switched off; what is
        registered into or removed from either afterwards stays out of the other. A module is
        imported once per process, so a registry of its own (a test's, say) starts as a copy of
        one holding the built-in ops, rather than loading them again."""
        with self._lock:
            # The user's ops are copied: which op each overrides is set per registry.
            user = {name: dataclasses.replace(spec) for name, spec in self._user.items()}
            copy = OpRegistry(use_builtin=set(self.use_builtin), _base=dict(self._base), _user=user)
            for name in self.ops:
                copy._select(name)
            return copy

    @contextmanager
    def origin(self, extension: str, *, user: bool = False) -> Iterator[None]:
        """Ops registered inside this block are attributed to ``extension``, and a bare ``@op``
        in a module imported inside it (in this thread) registers here; ``user`` marks a file
        from the user's extension folders, whose ops may override built-in ones."""
        with self._lock:
            previous = self._origin, self._user_origin
            self._origin, self._user_origin = extension, user
            loading = _LOADING.set(self)
            try:
                yield
            finally:
                _LOADING.reset(loading)
                self._origin, self._user_origin = previous


REGISTRY = OpRegistry()
#: The registry whose ``origin`` block is running in this thread: a bare ``@op`` registers there.
_LOADING: contextvars.ContextVar[OpRegistry | None] = contextvars.ContextVar(
    "opendream_loading", default=None
)


def op(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    version: str = "1",
    title: str | None = None,
    description: str | None = None,
    category: str = "other",
    deterministic: bool = True,
    returns: Literal["image", "mask"] | None = None,
    registry: OpRegistry | None = None,
    identity: Callable[[dict, Any], dict] | None = None,
    migrate: Callable[[dict, str], dict] | None = None,
    defaults: Callable[[dict], dict] | None = None,
    presets: list[dict[str, Any]] | None = None,
    compat: bool = False,
    remote: bool | str = False,
) -> Any:
    """Register ``func`` as an op. Usable bare (``@op``) or with options (``@op(version="2")``).

    ``identity(params, ctx)`` may return extra data for the cache key, such as the resolved
    revision of the model a recipe names. ``migrate(params, from_version)`` upgrades params
    recorded by an older version of the op (``"original"`` for the original Opendream).
    ``defaults(params)`` gives defaults that depend on the given params (for the params the
    recipe omits; e.g. the steps that suit the family of the model it names). ``presets`` are
    named sets of param values the form offers (``[{"title": ..., "values": {...}}]``), each
    checked against the params here; a recipe records the values, never the preset.
    ``compat`` accepts the original Opendream's hint-less, default-less parameters as text.
    ``remote`` declares that the op calls a paid or remote service (``True``, or the service's
    name): layers of it from an imported file run only once the user consents. ``registry``
    is where it registers; by default the registry loading the module (``OpRegistry.origin``),
    else the global ``REGISTRY``."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        spec = build_spec(f, name=name, returns=returns, compat=compat)
        spec.version = str(version)
        spec.title = title or spec.title
        spec.description = description if description is not None else spec.description
        spec.category = category
        spec.deterministic = deterministic
        spec.identity = identity
        spec.migrate = migrate
        spec.defaults = defaults
        spec.presets = _checked_presets(spec, presets or [])
        spec.service = (remote if isinstance(remote, str) else "a remote service") if remote else None
        (registry or _LOADING.get() or REGISTRY).register(spec)
        f.__opendream_op__ = spec  # type: ignore[attr-defined]
        f.title = spec.title  # type: ignore[attr-defined]
        return f

    return decorate(func) if func is not None else decorate


def _checked_presets(spec: OpSpec, presets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``presets`` whose values are valid params of ``spec`` (else ``OpDefinitionError``)."""
    for preset in presets:
        values = preset.get("values") if isinstance(preset, dict) else None
        if not isinstance(preset.get("title"), str) or not isinstance(values, dict):
            raise OpDefinitionError(
                f"op {spec.name!r}: a preset is {{'title': str, 'values': dict}}, not {preset!r}"
            )
        unknown = sorted(set(values) - set(spec.params_model.model_fields))
        if unknown:
            raise OpDefinitionError(
                f"op {spec.name!r}: preset {preset['title']!r} sets {unknown}, not params"
            )
        for name, value in values.items():
            try:
                spec.params_model.__pydantic_validator__.validate_assignment(
                    spec.params_model.model_construct(), name, value
                )
            except pydantic.ValidationError as exc:
                raise OpDefinitionError(
                    f"op {spec.name!r}: preset {preset['title']!r} gives {name} {value!r}: {exc.errors()[0]['msg']}"
                ) from None
    return [dict(p) for p in presets]


def define_op(func: Callable[..., Any] | None = None, **options: Any) -> Any:
    """The original Opendream's decorator: ``op`` with defaults, lenient about hint-less params."""
    return op(func, compat=True, **options)


__all__ = [
    "ORIGINAL",
    "REGISTRY",
    "Field",
    "LayerParam",
    "OpOutput",
    "OpRegistry",
    "OpSpec",
    "build_spec",
    "define_op",
    "op",
]
