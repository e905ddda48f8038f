"""Shared pieces for tiny random checkpoints: an offline word-level tokenizer and chat template."""

from __future__ import annotations

import string

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

# A small, fixed English vocabulary: enough for prompts to tokenize into real words.
WORDS = """
the a an and or of to in on for with by from at as is are was be it this that these those
what how why who where when which can could would should will do does did make made use
used give tell show list steps detail describe image picture photo caption request based
given text here there please i you he she we they my your me us them not no yes if then
about into out up down over under more most less some any all each every other such only
own same so than too very just now also get got go going come know think want need help
find write explain way best safe unsafe harmful illegal sorry cannot can't as ai model
item items fill numbered list generate content bottom top left right red green blue yellow
black white circle square triangle color colour shape count number one two three four five
person people thing things place time day year work world life hand part case week company
system program question answer good new first last long great little old big high different
small large next early young important few public bad able cat dog car house tree water food
book phrase activity perform instruction follow say says read shows shown scene word words
""".split()
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]
PUNCT = list(string.punctuation)

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] | upper }}: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ image_token }} "
    "{% else %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %} "
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def chat_template(image_token: str) -> str:
    """The tiny models' chat template with the family's image placeholder baked in."""
    return CHAT_TEMPLATE.replace("{{ image_token }}", image_token)


def word_tokenizer(extra_special: list[str] | None = None, **kwargs) -> PreTrainedTokenizerFast:
    """A left-padding WordLevel tokenizer that needs no download.

    `extra_special` tokens (image placeholders and the like) are added as single tokens.
    """
    vocab: dict[str, int] = {}
    for tok in SPECIALS + PUNCT + WORDS:
        vocab.setdefault(tok, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        padding_side="left",
        **kwargs,
    )
    if extra_special:
        tok.add_special_tokens({"additional_special_tokens": extra_special})
    return tok
