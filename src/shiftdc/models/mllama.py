"""Llama 3.2 Vision (MllamaForConditionalGeneration): cross-attention to the image.

The image never enters the token sequence: one `<|image|>` token marks where it is, and
cross-attention layers interleaved with the self-attention layers of the text decoder
(`text_config.cross_attention_layers`) let every token from the marker on attend to the
image's tiles (`cross_attention_mask`: which tokens see which tiles).

Which layers ShiftDC reads and corrects: the self-attention decoder layers only
(`decoder_layers`), in order; their outputs are the residual stream, layer l here being
the l-th self-attention layer. A cross-attention layer is where the image is added to that
stream: its contribution shows in the output of the next self-attention layer, which is
where the shift is read and corrected. Cross-attention layers are not hooked themselves
because a text-only prompt has no counterpart there: with no `pixel_values` and no cached
image states the model skips them entirely (the text passes through unchanged).

The text-only counterpart is therefore what the model itself runs for a prompt without an
image: the same chat template without the `<|image|>` marker, no `pixel_values`, no
`cross_attention_mask`, cross-attention layers skipped. The processor builds it (it adds
`<|begin_of_text|>` exactly as for image prompts).

KV reuse: yes. The cache holds, per cross-attention layer, the projected image states
(which do not run along the text) and, per self-attention layer, the text keys and values.
`prefix_cache` returns a cache whose `crop` rolls back the self-attention layers only; the
image states stay, so a continuation without `pixel_values` still attends to the image.
`cross_attention_mask` runs along the sequence on dim 1 and is sliced with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn

from shiftdc.models.adapter import Adapter, Inputs

if TYPE_CHECKING:
    from transformers import Cache


class MllamaAdapter(Adapter):
    family = "mllama"
    model_types = ("mllama",)
    nested_images = True
    requires = ("transformers.MllamaForConditionalGeneration",)

    def cross_attention_layers(self) -> list[int]:
        """Indices of the text decoder's cross-attention layers (in the full layer list)."""
        return list(self.text_config().cross_attention_layers)

    def decoder_layers(self) -> nn.ModuleList:
        """The self-attention decoder layers, in order (the cross-attention ones left out)."""
        if getattr(self, "_self_layers", None) is None:
            cross = set(self.cross_attention_layers())
            every = self.model.get_decoder().layers
            self._self_layers = nn.ModuleList(m for i, m in enumerate(every) if i not in cross)
        return self._self_layers

    def encode_text(self, prompts: list[str], system: str | None = None) -> Inputs:
        """Through the processor with no image, as the model's own text-only prompts are."""
        texts = [self.render(p, False, system) for p in prompts]
        return dict(self.processor(text=texts, padding=True, return_tensors="pt"))

    def prefix_cache(self) -> Cache:
        """A DynamicCache whose `crop` leaves the cross-attention layers' image states."""
        from transformers import DynamicCache

        class ImageKeepingCache(DynamicCache):
            def crop(self, tokens_to_remove: int) -> None:
                for i, layer in enumerate(self.layers):
                    if i not in cross:
                        layer.crop(tokens_to_remove)

        cross = set(self.cross_attention_layers())
        if 0 in cross:  # the cache's length is read from layer 0
            raise ValueError("mllama: a cross-attention layer at index 0 is not supported")
        return ImageKeepingCache(config=self.model.config)

    def forward_kwargs(
        self,
        inputs: Inputs,
        start: int = 0,
        stop: int | None = None,
        cache: Cache | None = None,
    ) -> dict[str, Any]:
        """As the base class, with `cross_attention_mask` sliced along its sequence dim (1)."""
        rest = {k: v for k, v in inputs.items() if k != "cross_attention_mask"}
        out = super().forward_kwargs(rest, start, stop, cache)
        mask = inputs.get("cross_attention_mask")
        if mask is not None:
            stop = inputs["input_ids"].shape[-1] if stop is None else stop
            out["cross_attention_mask"] = mask[:, start:stop]
        return out

    def generate_kwargs(self, inputs: Inputs, cache: Cache | None = None) -> dict[str, Any]:
        """As the base class, keeping the whole prompt's `cross_attention_mask` (generate
        slices it to the tokens it runs and extends it by a row per new token)."""
        out = super().generate_kwargs(inputs, cache)
        if cache is not None and "cross_attention_mask" in inputs:
            out["cross_attention_mask"] = inputs["cross_attention_mask"]
        return out
