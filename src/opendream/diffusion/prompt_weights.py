"""Prompt weights in the syntax AUTOMATIC1111's users write, for the families that can use them.

``(word:1.3)`` weighs ``word`` by 1.3, ``(word)`` by 1.1 and ``[word]`` by 1/1.1; groups nest
(their weights multiply) and ``\\(`` ``\\)`` ``\\[`` ``\\]`` are literal brackets. The syntax is
declared with pyparsing; compel (InvokeAI's prompt library) turns the weighted runs into the
text encoders' embeddings, for the CLIP-encoded families (SD 1.x/2.x and SDXL). Compel weighs
a run by blending toward the prompt without it, which differs a little from A1111's
multiply-and-renormalise; the syntax and its meaning (more or less of this) are the same.
Elsewhere a weighted prompt is refused: sent as text, the brackets would silently be words."""

from __future__ import annotations

from functools import cache
from typing import Any

from opendream.core.errors import InvalidParams

EMPHASIS = 1.1
#: Families whose text encoders compel can weigh (CLIP, one or two of them).
WEIGHTED_FAMILIES = ("sd1", "sd2", "sdxl")
MAX_WEIGHT = 10.0
_BRACKETS = "()[]"


@cache
def _grammar() -> Any:
    import pyparsing as pp

    # Spaces are part of the text: every element is made not to skip them (pyparsing reads the
    # default when an element is made; it is restored at once for other users of pyparsing).
    default = pp.ParserElement.DEFAULT_WHITE_CHARS
    pp.ParserElement.set_default_whitespace_chars("")
    try:
        return _elements(pp)
    finally:
        pp.ParserElement.set_default_whitespace_chars(default)


def _elements(pp: Any) -> Any:
    # ":1.2)" ends a weighted group, spaces allowed around the number as A1111 allows them.
    weight_end = pp.Regex(r":\s*(?P<weight>[-+]?(\d+\.?\d*|\.\d+))\s*\)")
    weight_end.set_parse_action(lambda t: float(t["weight"]))
    # A colon is text unless it ends a weighted group: "(style: anime:1.2)".
    text = pp.Regex(r"([^\\()\[\]:]|\\[\\()\[\]:]|:(?!\s*[-+]?(\d+\.?\d*|\.\d+)\s*\)))+")
    text.set_parse_action(lambda t: pp.re.sub(r"\\([\\()\[\]:])", r"\1", t[0]))
    expression = pp.Forward()
    weighted = pp.Suppress("(") + pp.Group(expression) + weight_end
    emphasised = pp.Suppress("(") + pp.Group(expression) + pp.Suppress(")")
    emphasised.add_parse_action(lambda t: [t[0], EMPHASIS])
    lessened = pp.Suppress("[") + pp.Group(expression) + pp.Suppress("]")
    lessened.add_parse_action(lambda t: [t[0], 1 / EMPHASIS])
    group = pp.Group(weighted | emphasised | lessened)
    expression <<= pp.ZeroOrMore(group | text)
    return expression


def weighted_runs(prompt: str, param: str = "prompt") -> list[tuple[str, float]]:
    """``prompt`` as (text, weight) runs in order, adjacent runs of one weight merged;
    ``InvalidParams`` naming ``param`` and the position of a bracket left open or unopened."""
    import pyparsing as pp

    try:
        tree = _grammar().parse_string(prompt, parse_all=True)
    except pp.ParseException as exc:
        raise InvalidParams(
            "prompt",
            [
                {
                    "param": param,
                    "message": f"prompt weights: a bracket is not closed or not opened near character "
                    f"{exc.loc + 1} ({exc.line!r}); write \\( or \\) for a literal parenthesis",
                }
            ],
        ) from None
    runs: list[tuple[str, float]] = []

    def walk(nodes: Any, weight: float) -> None:
        for node in nodes:
            if isinstance(node, str):
                if runs and runs[-1][1] == weight:
                    runs[-1] = (runs[-1][0] + node, weight)
                else:
                    runs.append((node, weight))
            else:
                children, factor = node
                if not 0 <= factor <= MAX_WEIGHT:
                    raise InvalidParams(
                        "prompt",
                        [
                            {
                                "param": param,
                                "message": f"prompt weights: {factor:g} is not in [0, {MAX_WEIGHT:g}]",
                            }
                        ],
                    )
                walk(children, weight * factor)

    walk(tree, 1.0)
    return runs


def has_weights(prompt: str) -> bool:
    """Whether ``prompt`` uses the syntax (an unescaped bracket)."""
    unescaped = (
        prompt.replace("\\\\", "").replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "")
    )
    return any(bracket in unescaped for bracket in _BRACKETS)


def weighted_arguments(
    pipe: Any, family: str | None, family_title: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    """``arguments`` with ``prompt``/``negative_prompt`` replaced by their embeddings when either
    uses weights (unchanged otherwise); refused for a family compel cannot weigh."""
    prompts = {name: arguments.get(name) or "" for name in ("prompt", "negative_prompt")}
    if not all(isinstance(text, str) for text in prompts.values()):
        return arguments  # a batch of prompts: ops send one
    weighted = [name for name, text in prompts.items() if has_weights(text)]
    if not weighted:
        return arguments
    runs = {name: weighted_runs(text, name) for name, text in prompts.items()}
    if family not in WEIGHTED_FAMILIES:
        raise InvalidParams(
            "prompt",
            [
                {
                    "param": name,
                    "message": f"prompt weights such as (word:1.2) and [word] work with SD 1.x, SD 2.x "
                    f"and SDXL models, not {family_title}; remove them, or write \\( \\) for literal brackets",
                }
                for name in weighted
            ],
        )
    embedded = _embed_sdxl(pipe, runs) if family == "sdxl" else _embed_sd(pipe, runs)
    rest = {k: v for k, v in arguments.items() if k not in ("prompt", "negative_prompt")}
    return {**rest, **embedded}


def _encoder(pipe: Any, tokenizer: Any, text_encoder: Any, **options: Any) -> Any:
    from compel import Compel, DiffusersTextualInversionManager

    return Compel(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        truncate_long_prompts=False,
        # Expands an embedding's token to its several vectors, as the pipeline's encoding does.
        textual_inversion_manager=DiffusersTextualInversionManager(pipe),
        **options,
    )


def _embeddings(compel: Any, runs: list[tuple[str, float]]) -> Any:
    texts, weights = [text for text, _ in runs] or [""], [weight for _, weight in runs] or [1.0]
    embeds, _ = compel.conditioning_provider.get_embeddings_for_weighted_prompt_fragments(
        text_batch=[texts], fragment_weights_batch=[weights], should_return_tokens=True, device=compel.device
    )
    return embeds


def _pair(compel: Any, runs: dict[str, list[tuple[str, float]]]) -> list[Any]:
    """One encoder's (positive, negative) embeddings, padded to one length."""
    return compel.pad_conditioning_tensors_to_same_length(
        [_embeddings(compel, runs["prompt"]), _embeddings(compel, runs["negative_prompt"])]
    )


def _embed_sd(pipe: Any, runs: dict[str, list[tuple[str, float]]]) -> dict[str, Any]:
    positive, negative = _pair(_encoder(pipe, pipe.tokenizer, pipe.text_encoder), runs)
    return {"prompt_embeds": positive, "negative_prompt_embeds": negative}


def _embed_sdxl(pipe: Any, runs: dict[str, list[tuple[str, float]]]) -> dict[str, Any]:
    """SDXL: both CLIPs' penultimate states side by side (their tokenizers split a prompt alike),
    and the second's pooled output of the plain text (a pooled vector has no tokens to weigh)."""
    import torch
    from compel import ReturnedEmbeddingsType

    penultimate = ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED
    first = _encoder(pipe, pipe.tokenizer, pipe.text_encoder, returned_embeddings_type=penultimate)
    second = _encoder(
        pipe,
        pipe.tokenizer_2,
        pipe.text_encoder_2,
        returned_embeddings_type=penultimate,
        requires_pooled=True,
    )
    (left, left_negative), (right, right_negative) = _pair(first, runs), _pair(second, runs)

    def pooled(name: str) -> Any:
        plain = "".join(text for text, _ in runs[name])
        return second.conditioning_provider.get_pooled_embeddings([plain], device=second.device)

    out = {
        "prompt_embeds": torch.cat([left, right], dim=-1),
        "negative_prompt_embeds": torch.cat([left_negative, right_negative], dim=-1),
        "pooled_prompt_embeds": pooled("prompt"),
        "negative_pooled_prompt_embeds": pooled("negative_prompt"),
    }
    if not any(text for text, _ in runs["negative_prompt"]) and getattr(
        pipe.config, "force_zeros_for_empty_prompt", False
    ):
        # As SDXL's own encoding does: no negative prompt is zeros, not the encoding of "".
        for name in ("negative_prompt_embeds", "negative_pooled_prompt_embeds"):
            out[name] = torch.zeros_like(out[name])
    return out
