"""Pieces of the server without a server: image URLs, conversations, per-row output."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from shiftdc.serve.conversation import to_prompt
from shiftdc.serve.data_urls import decode_image
from shiftdc.serve.openai_errors import APIError
from shiftdc.serve.rows import Row
from shiftdc.serve.schema import Message, parse_request
from tests.serve.server_proc import data_url

BIG = 10**8


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_data_urls_of_each_format_decode(fmt):
    im = Image.new("RGB", (20, 10), (10, 200, 30))
    out = decode_image(data_url(im, fmt), BIG, BIG)
    assert out.size == (20, 10) and out.mode == "RGB"


@pytest.mark.parametrize(
    "url,status",
    [
        ("http://example.com/a.png", 400),
        ("https://example.com/a.png", 400),
        ("ftp://x/a.png", 400),
        ("/etc/passwd", 400),
        ("data:text/plain;base64,aGk=", 400),
        ("data:image/png;base64,@@@", 400),
    ],
)
def test_refused_urls(url, status):
    with pytest.raises(APIError) as err:
        decode_image(url, BIG, BIG)
    assert err.value.status == status


def test_pixel_limit_is_checked_from_the_header():
    buf = io.BytesIO()
    Image.new("1", (3000, 3000)).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    with pytest.raises(APIError) as err:
        decode_image(url, BIG, max_pixels=3000 * 3000 - 1)
    assert err.value.status == 413 and "3000x3000" in err.value.message
    assert decode_image(url, BIG, max_pixels=3000 * 3000).size == (3000, 3000)


def test_single_user_turn_is_the_prompt_and_conversations_are_written_out():
    one = [Message(role="user", content="what is this?")]
    assert to_prompt(one, BIG, BIG) == ("what is this?", None)
    conv = [
        Message(role="system", content="Be brief."),
        Message(role="user", content="hi"),
        Message(role="assistant", content="hello"),
        Message(role="user", content="and now?"),
    ]
    prompt, _ = to_prompt(conv, BIG, BIG)
    assert prompt == "System: Be brief.\nUser: hi\nAssistant: hello\nUser: and now?"
    with pytest.raises(APIError):
        to_prompt([Message(role="assistant", content="x")], BIG, BIG)


def test_parse_request_statuses():
    ok = parse_request(b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}')
    assert ok.stream is False and ok.n is None
    for body, status in [
        (b"{", 400),
        (b"[]", 400),
        (b'{"model": "m", "messages": []}', 422),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 3}', 400),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [1]}', 400),
        (b'{"model": "m", "messages": [{"role": "x", "content": "x"}]}', 422),
    ]:
        with pytest.raises(APIError) as err:
            parse_request(body)
        assert err.value.status == status, body


class _Tok:
    """Characters as tokens: id i decodes to chr(i); 0 is EOS."""

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids if i != 0)


def _row(max_tokens=50, stops=(), cancelled=lambda: False):
    sent: list[str] = []
    return Row(_Tok(), max_tokens, list(stops), {0}, sent.append, cancelled), sent


def _feed(row, text):
    for ch in text:
        row.add(ord(ch))


def test_row_streams_what_it_returns():
    row, sent = _row()
    _feed(row, "hello world")
    row.add(0)
    row.add(ord("x"))  # after EOS: ignored (a finished row's padding)
    assert row.finish == "stop" and row.close() == "hello world"
    assert "".join(sent) == "hello world"


def test_row_cuts_at_stop_string_and_never_streams_it():
    row, sent = _row(stops=["END"])
    _feed(row, "one two ENDthree")
    assert row.finish == "stop"
    assert row.close() == "one two" and "".join(sent) == "one two"


def test_row_limit_and_cancel():
    row, _ = _row(max_tokens=3)
    _feed(row, "abcdef")
    assert row.finish == "length" and row.close() == "abc"
    flag = {"gone": False}
    row, _ = _row(cancelled=lambda: flag["gone"])
    _feed(row, "ab")
    flag["gone"] = True
    _feed(row, "cd")
    assert row.finish == "cancelled" and row.close() == "ab"


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--engine", "fast"], "--engine must be one of slots, batch"),
        (["--step-log", "{tmp}"], "not a file in an existing folder"),
        (["--step-log", "{tmp}/no/such/steps.jsonl"], "not a file in an existing folder"),
    ],
)
def test_bad_engine_flags_are_refused_in_one_line_before_loading(flags, fragment, tmp_path, capsys):
    from shiftdc.cli import main

    argv = ["serve", "--model", "unused", *(f.format(tmp=tmp_path) for f in flags)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and fragment in err, err
    assert not (tmp_path / "no").exists()  # nothing written
