"""An OpenAI `messages` list -> the one prompt and (at most one) image ShiftDC calibrates."""

from __future__ import annotations

from PIL import Image

from shiftdc.serve.data_urls import decode_image
from shiftdc.serve.openai_errors import bad
from shiftdc.serve.schema import Message

ROLE_NAMES = {"system": "System", "developer": "System", "user": "User", "assistant": "Assistant"}


def _text_and_urls(msg: Message) -> tuple[str, list[str]]:
    if msg.content is None:
        return "", []
    if isinstance(msg.content, str):
        return msg.content, []
    texts, urls = [], []
    for part in msg.content:
        if part.type == "text":
            texts.append(part.text or "")
        elif part.image_url is None:
            raise bad("an image_url part needs an 'image_url' object with a 'url'", "messages")
        else:
            urls.append(part.image_url.url)
    return "\n".join(t for t in texts if t), urls


def to_prompt(
    messages: list[Message], max_image_bytes: int, max_pixels: int
) -> tuple[str, Image.Image | None]:
    """(prompt, image). A single user turn is passed as is; a conversation with system or
    earlier turns is written out as "Role: text" lines into that one user turn, which is
    what ShiftDC calibrates (the adapters template one turn). One image per request."""
    parts = [(m.role, *_text_and_urls(m)) for m in messages]
    urls = [u for _, _, us in parts for u in us]
    if len(urls) > 1:
        raise bad(
            f"{len(urls)} images in one request; this server takes one image per request",
            "messages",
        )
    if parts[-1][0] != "user":
        raise bad("the last message must come from the user", "messages")
    if len(parts) == 1:
        prompt = parts[0][1]
    else:
        prompt = "\n".join(f"{ROLE_NAMES[r]}: {t}" for r, t, _ in parts if t)
    if not prompt.strip():
        raise bad("the prompt is empty; send some text with the image", "messages")
    image = decode_image(urls[0], max_image_bytes, max_pixels) if urls else None
    return prompt, image
