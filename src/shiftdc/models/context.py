"""Prompts that do not fit the model's context: refused or truncated, per a stated policy.

A request is measured as the model will read it (the family's chat template, its image
tokens, the processor's own image handling) plus the tokens still to be generated, against
the context length of the text model (its `max_position_embeddings`, or the tokenizer's
limit where that is smaller). The same measurement catches images that a family's
processor rejects (an extreme aspect ratio, say) and names the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from shiftdc.errors import InputError
from shiftdc.method.sample import Sample
from shiftdc.models.loading import VLM

POLICIES = ("refuse", "truncate")
"""refuse: a too-long request is an error; truncate: its request text is cut to fit."""

TRUNCATED = "prompt_truncated"
"""Key of a sample's meta (and its output record) describing a truncation."""

_NO_LIMIT = 10**8  # tokenizers without a limit report a huge model_max_length


def context_length(vlm: VLM) -> int | None:
    """Tokens the model can attend to (None when neither config nor tokenizer says)."""
    limits = []
    positions = getattr(vlm.adapter.text_config(), "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    tok_max = getattr(vlm.adapter.tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < _NO_LIMIT:
        limits.append(tok_max)
    return min(limits) if limits else None


def prompt_tokens(vlm: VLM, sample: Sample, template: str = "{query}") -> int:
    """Prompt length in tokens as the model reads it; InputError if the processor refuses it."""
    ad = vlm.adapter
    text = template.format(query=sample.prompt)
    if sample.image is None:
        return int(ad.encode_text([text])["input_ids"].shape[-1])
    try:
        ids = ad.encode_vl([text], [sample.image])["input_ids"]
    except Exception as exc:  # processors raise many types (ValueError, IndexError, ...)
        w, h = sample.image.size
        raise InputError(
            f"record {sample.id!r}: the {vlm.family} processor cannot take its {w}x{h} image "
            f"({type(exc).__name__}: {_first_line(exc)}); resize or pad the image"
        ) from exc
    return int(ids.shape[-1])


def limit_to_context(
    vlm: VLM,
    samples: Sequence[Sample],
    policy: str = "refuse",
    new_tokens: int = 0,
    template: str = "{query}",
) -> list[Sample]:
    """Check every sample fits the context with `new_tokens` to spare; apply `policy` if not.

    `template` wraps the request text as the model will see it (e.g. the caption prompt).
    Returns the samples, truncated ones replaced by copies whose meta[TRUNCATED] records the
    token counts before and after.
    """
    if policy not in POLICIES:
        raise InputError(f"unknown long-prompt policy {policy!r}; use one of {POLICIES}")
    limit = context_length(vlm)
    out = []
    for s in samples:
        n = prompt_tokens(vlm, s, template)
        if limit is None or n + new_tokens <= limit:
            out.append(s)
            continue
        if policy == "refuse":
            raise InputError(
                f"record {s.id!r}: its prompt is {n} tokens and {new_tokens} are to be "
                f"generated, more than the model's context of {limit}; shorten it, lower the "
                "token limits, or pass --long-prompt truncate"
            )
        out.append(_truncate(vlm, s, n, limit - new_tokens, template))
    return out


def limit_requests(
    vlm: VLM,
    samples: Sequence[Sample],
    policy: str,
    new_tokens: int,
    caption_tokens: int | None = None,
) -> list[Sample]:
    """`limit_to_context` on every prompt these requests make: with `caption_tokens`, first
    the caption prompt of each request still to be self-captioned, then (where `new_tokens`)
    the answer prompts."""
    from shiftdc.method.captions import CAPTION_PROMPT

    samples = list(samples)
    if caption_tokens is not None:
        todo = [s for s in samples if s.image is not None and s.caption is None]
        by_id = {
            s.id: s for s in limit_to_context(vlm, todo, policy, caption_tokens, CAPTION_PROMPT)
        }
        samples = [by_id.get(s.id, s) for s in samples]
    return limit_to_context(vlm, samples, policy, new_tokens) if new_tokens else samples


def _truncate(vlm: VLM, s: Sample, n: int, budget: int, template: str) -> Sample:
    """A copy of `s` whose request text is cut (from the end) until it fits `budget` tokens."""
    tok = vlm.adapter.tokenizer
    ids = tok(s.prompt, add_special_tokens=False)["input_ids"]
    before, cut, length = n, s, n
    keep = len(ids)
    for _ in range(8):  # re-tokenizing a cut text can shift a token or two
        keep -= length - budget
        if keep < 1:
            break
        cut = replace(s, prompt=tok.decode(ids[:keep]).strip(), meta=dict(s.meta))
        if not cut.prompt:
            break
        length = prompt_tokens(vlm, cut, template)
        if length <= budget:
            prev = s.meta.get(TRUNCATED, {}).get("from_tokens", before)
            cut.meta[TRUNCATED] = {"from_tokens": prev, "to_tokens": length}
            return cut
    raise InputError(
        f"record {s.id!r}: even cut short its prompt does not fit the model's context "
        f"({budget} tokens left after the template, image and generated tokens); lower the "
        "token limits or use a smaller image"
    )


def truncation_field(sample: Sample) -> dict[str, Any]:
    """{TRUNCATED: {...}} for an output record when the sample was truncated, else {}."""
    note = sample.meta.get(TRUNCATED)
    return {TRUNCATED: note} if note else {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no message"
