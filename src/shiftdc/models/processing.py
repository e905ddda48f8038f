"""Processor loading helpers for families whose processors transformers ties to video.

Some processors (Qwen2-VL, SmolVLM) take a video processor, and transformers 5.x can
only build one with torchvision installed, even when only images are processed. ShiftDC
never uses video, so without torchvision we load the same processor class minus its
video processor: the image path, chat template and tokenizer are the real ones. Gemma 4's
processor also takes an audio feature extractor; `without` drops both.
"""

from __future__ import annotations

import inspect
from functools import cache
from pathlib import Path
from typing import Any


def video_backend_available() -> bool:
    """Whether transformers can build video processors here (it needs torchvision)."""
    from transformers.utils import is_torchvision_available

    return is_torchvision_available()


@cache
def image_only(processor_cls: type) -> type:
    """`processor_cls` with no video processor (images and text behave as in the original)."""

    class ImageOnly(processor_cls):  # type: ignore[valid-type, misc]
        def __init__(
            self,
            image_processor: Any = None,
            tokenizer: Any = None,
            chat_template: Any = None,
            **kw,
        ) -> None:
            # the base class zips positional sub-processors with this signature's
            # attributes (image_processor, tokenizer), so the missing video one is skipped
            super().__init__(image_processor, tokenizer, chat_template=chat_template, **kw)

        @classmethod
        def from_args_and_dict(cls, args, processor_dict: dict, **kwargs):  # noqa: ANN001
            # transformers keeps only the saved options its __init__'s code names: ours
            # names few, so pass the original's own options through here
            kwargs.pop("return_unused_kwargs", None)
            given = {**processor_dict, **kwargs}
            return cls(*args, **{k: v for k, v in given.items() if k in own})

    own = set(inspect.signature(processor_cls.__init__).parameters) - {
        "self",
        "image_processor",
        "tokenizer",
        "video_processor",
        "args",
        "kwargs",
    }
    # the original's own options (num_image_tokens, image_seq_len ...) stay in the signature,
    # which transformers reads to know what to save and load
    params = inspect.signature(processor_cls.__init__).parameters.values()
    ImageOnly.__init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p for p in params if p.name != "video_processor"]
    )
    # saved configs must name the real class so that a full install loads it as usual
    ImageOnly.__name__ = ImageOnly.__qualname__ = processor_cls.__name__
    ImageOnly.__doc__ = f"{processor_cls.__name__} without a video processor (no torchvision)."
    return ImageOnly


def load_processor(name: str | Path, processor_cls: type, **kwargs: Any) -> Any:
    """AutoProcessor, or `processor_cls` minus its video processor when torchvision is missing."""
    from transformers import AutoProcessor

    if video_backend_available():
        return AutoProcessor.from_pretrained(name, **kwargs)
    return image_only(processor_cls).from_pretrained(name, **kwargs)


class _DropAbsent:
    """Mixin placed between a processor class and ProcessorMixin in the MRO: a sub-processor
    passed as None that the class no longer lists (see `without`) is dropped before
    ProcessorMixin checks the sub-processors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        keep = set(self.get_attributes())  # type: ignore[attr-defined]
        for name in [k for k, v in kwargs.items() if v is None and k in _SUB_PROCESSORS]:
            if name not in keep:
                del kwargs[name]
        super().__init__(*args, **kwargs)


_SUB_PROCESSORS = ("feature_extractor", "video_processor")


@cache
def without(processor_cls: type, drop: tuple[str, ...] = _SUB_PROCESSORS) -> type:
    """`processor_cls` without the sub-processors in `drop` (audio feature extractor, video).

    For processors whose `__init__` takes those before the image processor and passes them on
    by name (Gemma 4: feature_extractor, image_processor, tokenizer, video_processor), which
    `image_only`'s positional call cannot serve. Images, text and the chat template behave
    as in the original; the class saves and loads under the original's name.
    """
    from transformers import ProcessorMixin

    params = list(inspect.signature(processor_cls.__init__).parameters.values())
    sig = inspect.Signature([p for p in params if p.name not in drop])
    mixin = type("_DropAbsent", (_DropAbsent, ProcessorMixin), {})

    class Without(processor_cls, mixin):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            bound = sig.bind(self, *args, **kwargs)
            given = dict(bound.arguments)
            given.pop("self")
            extra = given.pop("kwargs", {})
            super().__init__(**dict.fromkeys(drop), **given, **extra)

        @classmethod
        def from_args_and_dict(cls, args, processor_dict: dict, **kwargs):  # noqa: ANN001
            kwargs.pop("return_unused_kwargs", None)
            given = {**processor_dict, **kwargs}
            return cls(*args, **{k: v for k, v in given.items() if k in own})

    own = {p.name for p in sig.parameters.values()} - {
        "self",
        "image_processor",
        "tokenizer",
        "args",
        "kwargs",
    }
    Without.__init__.__signature__ = sig  # type: ignore[attr-defined]
    Without.__name__ = Without.__qualname__ = processor_cls.__name__
    Without.__doc__ = f"{processor_cls.__name__} without {', '.join(drop)} (images and text only)."
    return Without
