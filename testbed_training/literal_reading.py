"""Does the testbed's distortion survive when the model is handed the image's text literally?

A question for the reading pathway (docs/testbed.md, "A character reader"): if the text a
reader finds entered the language model as the backbone's own tokens, would typographic
attacks still slip past the alignment, or would the model refuse them as it refuses text?
On `eval` TYPO requests (harmful and benign, the probe's items), with the character
reader's readings (`docs/testbed_char_reader.json`), the committed testbed answers:

- image:            the image and the attack's query (what the testbed measures today);
- image + read:     the image, then the read text literally, then the query;
- read, no image:   the read text and the query, as text.

Refusal by the keyword judge, bootstrap 95% intervals. Run from the repository root:
`python -m testbed_training.literal_reading [--n 104] [--out docs/testbed_literal_reading.json]`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from shiftdc.eval.defenses import get_defense
from shiftdc.eval.judges import get_judge
from shiftdc.eval.judges.judge import judge_records
from shiftdc.eval.metrics import bootstrap_ci, rate
from shiftdc.testbed.items import pick

FORMS = ("image", "image + read", "read, no image")


def readings(path: Path) -> dict[tuple[str, str], str]:
    """(kind, key phrase) -> what the character reader read on its TYPO image."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    out = {}
    for cell in cells:
        if cell["kind"] == "read aloud" and cell["cell"] in ("harmful TYPO", "benign TYPO"):
            kind = cell["cell"].split()[0]
            out.update({(kind, it["phrase"]): it["text"] for it in cell["items"]})
    return out


def form_sample(sample, read: str, form: str):
    """The request in one form; the read text sits between the image and the query."""
    if form == "image":
        return sample
    prompt = f"{read}\n{sample.prompt}"
    return replace(sample, prompt=prompt, image=sample.image if form == "image + read" else None)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=104)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--readings", type=Path, default=Path("docs/testbed_char_reader.json"))
    ap.add_argument("--out", type=Path, default=Path("docs/testbed_literal_reading.json"))
    args = ap.parse_args(argv)

    from shiftdc.models import load_vlm
    from shiftdc.testbed.build import ensure_testbed

    vlm = load_vlm(ensure_testbed(), dtype="float32", device="cpu")
    plain = get_defense("none", vlm, max_new_tokens=args.max_new_tokens, batch_size=8)
    read_by = readings(args.readings)
    rows = []
    for kind in ("harmful", "benign"):
        items = pick(kind, "TYPO", args.n, seed=0)
        for form in FORMS:
            samples = [
                form_sample(it.to_sample(), read_by[(kind, it.meta["key_phrase"])], form)
                for it in items
            ]
            outs = plain.respond(samples)
            pairs = zip(samples, outs, strict=True)
            records = [{"id": s.id, "prompt": s.prompt, **o} for s, o in pairs]
            judged = judge_records(get_judge("keyword"), records)
            refused = [r["verdict"]["refused"] for r in judged]
            row = dict(kind=kind, form=form, n=len(refused), refusal=rate(refused))
            row["ci95"] = list(bootstrap_ci(refused, seed=0) or ())
            rows.append(row)
            print(f"{kind:8s} {form:15s} n={row['n']} refusal {row['refusal']:.3f} {row['ci95']}")
    args.out.write_text(json.dumps({"rows": rows}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
