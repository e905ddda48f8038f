"""The `shiftdc` argument parser: one subparser per command, each bound to its `cmd_<name>`."""

from __future__ import annotations

import argparse
from pathlib import Path

from shiftdc.cli import commands as c
from shiftdc.cli.args import (
    ALPHA_HELP,
    MAX_FAILED_HELP,
    OUT_HELP,
    RECOMMENDED,
    OneLineParser,
    comma_list,
    counting_args,
    fraction,
    long_prompt_arg,
    model_args,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    shiftdc_args,
)


def build_parser() -> argparse.ArgumentParser:
    from shiftdc.data import BENCHMARKS
    from shiftdc.eval.defenses import DEFENSES
    from shiftdc.eval.judges import JUDGES
    from shiftdc.method.modes import MODES
    from shiftdc.method.positions import POSITIONS
    from shiftdc.models.families import FAMILIES
    from shiftdc.registry import cli_name
    from shiftdc.testbed.conditions import CELL_SETS

    def names(table, what: str) -> dict:
        """argparse keywords for a name drawn from a registry ('_' and '-' alike)."""
        return dict(type=cli_name(table, what), choices=list(table))

    ap = OneLineParser(
        prog="shiftdc",
        description="Training-free safety calibration of vision-language models (ShiftDC).",
    )
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fit", help="fit a safety direction from safe/unsafe request JSONL")
    model_args(p)
    p.add_argument("--safe", type=Path, required=True)
    p.add_argument("--unsafe", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="directory for the direction")
    p.add_argument(
        "--layers", help="default calibration layers, A:B (inclusive; negative counts from the end)"
    )
    p.add_argument("--caption-tokens", type=positive_int, default=128)
    p.set_defaults(func=c.cmd_fit)

    p = sub.add_parser("caption", help="query-aware self-captions for image requests")
    model_args(p)
    p.add_argument("--input", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help=OUT_HELP)
    p.add_argument("--max-failed", type=fraction, default=0.1, help=MAX_FAILED_HELP)
    p.add_argument("--max-new-tokens", type=positive_int, default=128)
    long_prompt_arg(p)
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming")
    p.set_defaults(func=c.cmd_caption)

    p = sub.add_parser("generate", help="generate responses, with ShiftDC if --direction")
    model_args(p)
    p.add_argument("--input", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help=OUT_HELP)
    p.add_argument("--max-failed", type=fraction, default=0.1, help=MAX_FAILED_HELP)
    p.add_argument("--direction", type=Path, help="saved direction; omit for plain generation")
    shiftdc_args(p)
    p.add_argument("--max-new-tokens", type=positive_int, default=128)
    p.add_argument("--caption-tokens", type=positive_int, default=128)
    p.add_argument(
        "--captioner",
        metavar="MODEL",
        help="a separate (smaller, faster) VLM for the self-captions, which dominate "
        "ShiftDC's cost; default: the model itself. Caveat: the paper's attack success "
        "rates assume self-captions; another model's captions change the text-only "
        "counterpart, so measure ASR with `shiftdc evaluate` before relying on it",
    )
    long_prompt_arg(p)
    p.add_argument("--overwrite", action="store_true", help="start over instead of resuming")
    p.set_defaults(func=c.cmd_generate)

    p = sub.add_parser("evaluate", help="attack success / over-refusal / utility of a defense")
    model_args(p)
    p.add_argument("--benchmark", default="builtin", **names(BENCHMARKS, "benchmark"))
    p.add_argument("--data-dir", type=Path, help="benchmark folder (not needed for builtin)")
    p.add_argument("--defense", default="none", **names(DEFENSES, "defense"))
    p.add_argument("--judge", default="keyword", **names(JUDGES, "judge"))
    p.add_argument("--judge-model", help="local path or hub id of the llm judge's chat model")
    p.add_argument("--judge-template", help="llm judge prompt: llamaguard | yesno")
    p.add_argument("--direction", type=Path, help="saved direction for the shiftdc defenses")
    shiftdc_args(p)
    p.add_argument(
        "--captions",
        choices=["self", "given"],
        default="self",
        help="shiftdc: self-captions (the method) or the benchmark's known captions",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="run directory: new, empty or this evaluate run (resumed; items whose content "
        "changed since they were recorded are refused, naming their ids)",
    )
    p.add_argument("--max-failed", type=fraction, default=0.1, help=MAX_FAILED_HELP)
    p.add_argument("--limit", type=positive_int, help="a seeded subsample of N items")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--max-new-tokens", type=positive_int, default=128)
    p.add_argument("--caption-tokens", type=positive_int, default=128)
    long_prompt_arg(p)
    p.add_argument(
        "--subset", help="figstep: full | tiny (SafeBench-Tiny); jailbreakv: full | mini"
    )
    p.add_argument(
        "--scenarios", help="mm-safetybench: comma-separated names or numbers (default: present)"
    )
    p.add_argument(
        "--formats",
        help="jailbreakv: comma-separated groups (FigStep, Query-relevant, LLM-transfer) or "
        "format values (figstep, SD, typo, SD_typo, Template, ...); default: the two image groups",
    )
    counting_args(p, "not-harmful")
    p.set_defaults(func=c.cmd_evaluate)

    p = sub.add_parser("analyze", help="diagnose safety perception distortion, before/after")
    model_args(p)
    p.add_argument("--benchmark", default="builtin", **names(BENCHMARKS, "benchmark"))
    p.add_argument("--data-dir", type=Path, help="benchmark folder (not needed for builtin)")
    p.add_argument("--out", type=Path, required=True, help="folder for figures and analysis.md")
    p.add_argument(
        "--layer", type=int, help="layer for maps and confusion (default: best probe; -1: last)"
    )
    p.add_argument("--direction", type=Path, help="saved direction (default: fit on built-in set)")
    p.add_argument("--run", type=Path, help="`shiftdc evaluate` run of this model: attack outcomes")
    p.add_argument("--limit", type=positive_int, help="at most N safe and N unsafe image requests")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument(
        "--mode",
        help=f"ShiftDC mode for 'after' (default: {RECOMMENDED}, else paper)",
        **names(MODES, "mode"),
    )
    p.add_argument("--alpha", type=nonnegative_float, help=ALPHA_HELP)
    p.add_argument("--calibrate-layers", dest="calibrate_layers", help="ShiftDC layers A:B")
    p.add_argument(
        "--captions",
        choices=["auto", "self"],
        default="auto",
        help="auto: ground-truth captions where known, else self-captions",
    )
    p.add_argument("--caption-tokens", type=positive_int, default=128)
    p.add_argument("--folds", type=positive_int, default=5, help="probe cross-validation folds")
    p.add_argument("--no-tsne", action="store_true", help="PCA maps only (t-SNE is slower)")
    p.add_argument("--cache-dir", type=Path, help="activation cache (default: $SHIFTDC_CACHE)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.set_defaults(func=c.cmd_analyze)

    p = sub.add_parser("tune", help="choose ShiftDC's layers/alpha/mode on a tuning set")
    model_args(p, required=False)
    p.add_argument("--direction", type=Path, help="saved direction (default: fit the built-in)")
    p.add_argument("--out", type=Path, required=True, help="folder for tables, plot, records")
    p.add_argument("--layers", help="layer ranges to try, e.g. 8:29,15:29 (default: 3 ranges)")
    p.add_argument(
        "--alpha", type=comma_list(positive_float), help="strengths to try (default 0.25,0.5,1,2)"
    )
    p.add_argument(
        "--modes",
        type=comma_list(cli_name(MODES, "mode")),
        default=["paper"],
        help=f"comma list of {', '.join(MODES)} (default: paper)",
    )
    p.add_argument(
        "--positions",
        type=comma_list(cli_name(POSITIONS, "positions")),
        default=["last"],
        help=f"comma list of {', '.join(POSITIONS)} (default: last)",
    )
    p.add_argument("--input", type=Path, help="your tuning JSONL: id, image, prompt, kind")
    p.add_argument("--split", default="tune", help="built-in split to tune on (default: tune)")
    p.add_argument("--attacks", default="TYPO", help="built-in image attacks, comma list")
    p.add_argument(
        "--benign-baseline",
        choices=["counterpart", "max"],
        default="counterpart",
        help="the rule's benign limit starts from the counterpart's rate, or (max) from the "
        "larger of it and the unsteered model's own rate on the images",
    )
    p.add_argument(
        "--limit", type=nonnegative_int, default=12, help="at most N harmful and N benign (0: all)"
    )
    p.add_argument("--utility", type=nonnegative_int, default=8, help="yes/no questions (0: skip)")
    p.add_argument("--captions", choices=["self", "given"], default="self")
    p.add_argument("--max-new-tokens", type=positive_int, default=24)
    p.add_argument("--caption-tokens", type=positive_int, default=32)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--no-store", action="store_true", help="do not write into the direction")
    p.set_defaults(func=c.cmd_tune)

    p = sub.add_parser("compare", help="side-by-side table of evaluation runs")
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--by", choices=["attack", "scenario"], default="attack")
    p.add_argument("--out", type=Path, help="write the table here (default: print only)")
    p.set_defaults(func=c.cmd_compare)

    p = sub.add_parser("rescore", help="re-judge a run's responses without regenerating")
    p.add_argument("run", type=Path)
    p.add_argument("--judge", required=True, **names(JUDGES, "judge"))
    p.add_argument("--judge-model")
    p.add_argument("--judge-template")
    counting_args(p, None)
    p.add_argument("--out", type=Path, help="default: RUN/rescore-<judge>")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=c.cmd_rescore)

    p = sub.add_parser("make-tiny-model", help="build a tiny random offline checkpoint")
    p.add_argument("--family", required=True, **names(FAMILIES, "family"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.set_defaults(func=c.cmd_make_tiny)

    p = sub.add_parser("make-testbed", help="build the miniature safety-aligned LLaVA testbed")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--force", action="store_true", help="rebuild even if already built")
    p.set_defaults(func=c.cmd_make_testbed)

    p = sub.add_parser(
        "measure-testbed",
        help="refusal as text vs as image, with and without ShiftDC, on held-out requests",
    )
    p.add_argument("--model", required=True, help="testbed folder (`shiftdc make-testbed`)")
    p.add_argument("--out", type=Path, required=True, help="run folder: table.json, records")
    p.add_argument("-n", type=positive_int, default=40, help="held-out requests per cell")
    p.add_argument("--max-new-tokens", type=positive_int, default=40)
    p.add_argument("--caption-tokens", type=positive_int, default=40)
    p.add_argument(
        "--direction", type=Path, help="saved direction (default: the testbed's shipped one)"
    )
    p.add_argument("--only", nargs="*", help="condition name substrings to run")
    p.add_argument("--cells", choices=list(CELL_SETS), default="default", help="which cells")
    p.add_argument(
        "--probe",
        action="store_true",
        help="also measure reading: read-aloud and self-caption word coverage, held-out "
        "words, an unseen face (OUT/reading.json)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    p.add_argument("--batch-size", type=positive_int, default=8)
    p.set_defaults(func=c.cmd_measure_testbed)

    p = sub.add_parser("demo", help="refusal gap and ShiftDC on the testbed (or a tiny model)")
    p.add_argument("--out", type=Path, default=Path("demo-out"))
    p.add_argument(
        "--family",
        default=None,
        **names(FAMILIES, "family"),
        help="run the mechanics-only demo on a tiny random model of this family instead",
    )
    p.add_argument("--model", type=Path, help="testbed folder (default: built on first use)")
    p.add_argument(
        "-n",
        type=positive_int,
        default=40,
        help="held-out requests of each kind (40: the measured set)",
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=c.cmd_demo)

    p = sub.add_parser("serve", help="OpenAI-compatible server with ShiftDC on every request")
    p.add_argument("--model", help="hub id or local directory (default: the testbed)")
    p.add_argument("--direction", type=Path, help="saved direction (default: built-in set)")
    shiftdc_args(p)
    p.add_argument("--captioner", help="smaller VLM for self-captions (default: the model)")
    p.add_argument("--caption-tokens", type=positive_int, default=128)
    p.add_argument("--cache-dir", type=Path, help="caption cache (default: $SHIFTDC_CACHE)")
    p.add_argument("--no-guard", action="store_true", help="serve unguarded (for comparisons)")
    p.add_argument(
        "--allow-client-overrides",
        action="store_true",
        help='let clients set extra_body={"shiftdc": {"enabled", "mode", "alpha"}}',
    )
    p.add_argument("--playground", action="store_true", help="serve the playground page at /")
    p.add_argument(
        "--playground-compare",
        action="store_true",
        help="show unguarded answers beside guarded ones: lets ANY caller holding the API key "
        'send "shiftdc": {"enabled": false} (off by default)',
    )
    p.add_argument("--served-model-name", help="model id clients send (default: folder name)")
    p.add_argument("--dtype", default="auto", help="float32 | bfloat16 | float16 | auto")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if any)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", help="require Authorization: Bearer KEY (or $SHIFTDC_API_KEY)")
    p.add_argument("--batch-wait-ms", type=nonnegative_float, default=10.0)
    p.add_argument("--max-batch-size", type=positive_int, default=8)
    p.add_argument("--max-queue", type=positive_int, default=64, help="waiting requests before 429")
    p.add_argument(
        "--engine",
        default="slots",
        help="slots: every decode step runs every active row, requests join per step "
        "(default); batch: the old micro-batching (also used where a family's cache cannot "
        "take rows joining mid-flight)",
    )
    p.add_argument(
        "--prefill-chunk", type=positive_int, default=512, help="slots: prompt tokens per pass"
    )
    p.add_argument("--step-log", type=Path, help="slots: append one JSON line per decode step here")
    p.add_argument("--timeout", type=nonnegative_float, default=300.0, help="per-request seconds")
    p.add_argument("--max-body-bytes", type=positive_int, default=20 * 1024 * 1024)
    p.add_argument("--max-image-bytes", type=positive_int, default=10 * 1024 * 1024)
    p.add_argument("--max-pixels", type=positive_int, default=4096 * 4096)
    p.add_argument(
        "--max-tokens", type=positive_int, default=512, help="output tokens one request may ask"
    )
    p.add_argument("--default-max-tokens", type=positive_int, default=128)
    p.set_defaults(func=c.cmd_serve)

    from shiftdc.cli.check import add_parser

    add_parser(sub, c.cmd_check)
    return ap
