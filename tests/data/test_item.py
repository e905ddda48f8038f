"""EvalItem: lazy image loading, clear ImageLoadError, conversion to Sample."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from shiftdc.data import EvalItem, ImageLoadError
from shiftdc.method.sample import Sample
from tests.helpers.upstream_layouts import write_image


def make_item(image, **kw) -> EvalItem:
    """A minimal harmful item around `image`."""
    fields = dict(
        id="t/1",
        prompt="Describe the image.",
        image=image,
        scenario="s",
        attack="TYPO",
        kind="harmful",
        benchmark="test",
    )
    fields.update(kw)
    return EvalItem(**fields)


def test_path_image_loads_as_rgb(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.new("RGBA", (5, 4), (1, 2, 3, 128)).save(path)
    img = make_item(path).load_image()
    assert img is not None and img.mode == "RGB" and img.size == (5, 4)


def test_str_path_is_accepted(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.jpg")
    item = make_item(str(path))
    assert isinstance(item.image, Path) and item.image_source == str(path)


def test_text_only_item_has_no_image() -> None:
    item = make_item(None, attack="text")
    assert item.load_image() is None and not item.has_image and item.image_source is None


@pytest.mark.parametrize(
    "content", [b"", b"not an image at all", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00truncated"]
)
def test_corrupt_image_raises_image_load_error_naming_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError) as info:
        make_item(path).load_image()
    assert str(path) in str(info.value) and info.value.source == str(path)


def test_truncated_png_raises_image_load_error(tmp_path: Path) -> None:
    path = write_image(tmp_path / "cut.png")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ImageLoadError, match="cut.png"):
        make_item(path).load_image()


def test_missing_image_raises_image_load_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.jpg"
    with pytest.raises(ImageLoadError, match="file not found"):
        make_item(path).load_image()


def test_failing_renderer_raises_image_load_error() -> None:
    def boom() -> Image.Image:
        raise RuntimeError("renderer broke")

    with pytest.raises(ImageLoadError, match="renderer broke"):
        make_item(boom).load_image()


def test_callable_image_is_rendered_lazily() -> None:
    calls = []

    def render() -> Image.Image:
        calls.append(1)
        return Image.new("L", (3, 3), 7)

    item = make_item(render)
    assert calls == [] and item.image_source == "<generated>"
    img = item.load_image()
    assert calls == [1] and img is not None and img.mode == "RGB"


def test_to_sample_carries_prompt_caption_and_labels(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.jpg")
    item = make_item(path, caption="A red box.", request="the request", meta={"x": 1})
    sample = item.to_sample()
    assert isinstance(sample, Sample)
    assert (sample.id, sample.caption) == ("t/1", "A red box.")
    assert sample.prompt == "Describe the image."
    assert sample.image is not None and sample.image.size == (8, 6)
    assert sample.meta["benchmark"] == "test" and sample.meta["kind"] == "harmful"
    assert sample.meta["request"] == "the request" and sample.meta["x"] == 1
    assert sample.text_only_prompt() == "Describe the image. Image Caption: A red box."


def test_to_sample_propagates_image_load_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jpg"
    path.write_text("junk")
    with pytest.raises(ImageLoadError):
        make_item(path).to_sample()


def test_bad_kind_and_missing_utility_answer_are_rejected() -> None:
    with pytest.raises(ValueError, match="kind"):
        make_item(None, kind="evil")
    with pytest.raises(ValueError, match="answer"):
        make_item(None, kind="utility")


def test_items_and_errors_survive_pickling(tmp_path: Path) -> None:
    import pickle

    from shiftdc.data import DatasetLayoutError, builtin_items

    item = builtin_items(attacks=("SD_TYPO",), kinds=("harmful",))[0]
    copy = pickle.loads(pickle.dumps(item))
    assert copy == item and copy.load_image().tobytes() == item.load_image().tobytes()
    for err in (ImageLoadError("a.jpg", "corrupt"), DatasetLayoutError("mme", tmp_path, "hint")):
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is type(err) and str(again) == str(err)
