"""The `shiftdc` commands: each `cmd_<name>` reads its flags, calls the library and prints."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from shiftdc.errors import InputError, ShiftDCError
from shiftdc.models.context import limit_requests

if TYPE_CHECKING:
    from shiftdc.records.failures import Tally


def _load(args: argparse.Namespace):
    from transformers.utils import logging as hf_logging

    from shiftdc.models import load_vlm

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    from shiftdc.parallel.distributed import rank_device

    return load_vlm(
        args.model,
        dtype=args.dtype,
        device=args.device or rank_device(),
        device_map=args.device_map,
        max_memory=args.max_memory,
        offload_folder=args.offload_folder,
    )


def _layers(spec: str | None, vlm) -> list[int] | None:
    from shiftdc.method.layers import resolve_layers

    return resolve_layers(spec, vlm.num_layers) if spec else None


def cmd_fit(args: argparse.Namespace) -> None:
    from shiftdc.cli.jobs import check_direction_out, fit_job
    from shiftdc.records.requests import read_samples

    safe, unsafe = read_samples(args.safe), read_samples(args.unsafe)
    check_direction_out(args.out)
    vlm = _load(args)
    safe = limit_requests(vlm, safe, "refuse", 0, args.caption_tokens)
    unsafe = limit_requests(vlm, unsafe, "refuse", 0, args.caption_tokens)
    d = fit_job(
        vlm,
        safe,
        unsafe,
        args.out,
        layers=_layers(args.layers, vlm),
        batch_size=args.batch_size,
        caption_tokens=args.caption_tokens,
        progress=not args.quiet,
    )
    print(
        f"direction fitted on {d.meta['n_safe']} safe + {d.meta['n_unsafe']} unsafe "
        f"requests, {d.num_layers} layers -> {args.out}"
    )


def cmd_caption(args: argparse.Namespace) -> None:
    from shiftdc.cli.jobs import caption_job
    from shiftdc.records.files import RecordFile
    from shiftdc.records.requests import read_samples

    samples = read_samples(args.input, require_image=True)
    RecordFile.open(args.out, "caption", overwrite=args.overwrite, inputs=[args.input])
    vlm = _load(args)
    samples = limit_requests(vlm, samples, args.long_prompt, 0, args.max_new_tokens)
    tally = caption_job(
        vlm,
        samples,
        args.out,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(f"{_tally_line(tally, len(samples))} captions -> {args.out}")
    tally.check(args.max_failed)


def _tally_line(tally: Tally, total: int) -> str:
    """'N of M done, F failed' for a job's records file."""
    failed = f", {tally.failed} failed" if tally.failed else ""
    return f"{tally.recorded - tally.failed} of {total} done{failed}"


def cmd_generate(args: argparse.Namespace) -> None:
    from shiftdc.cli.jobs import GenerateConfig, check_shiftdc_options, generate_job
    from shiftdc.records.files import RecordFile
    from shiftdc.records.requests import read_samples

    samples = read_samples(args.input)
    check_shiftdc_options(
        args.direction, args.layers, args.mode, args.alpha, args.captioner, args.positions
    )
    RecordFile.open(args.out, "generate", overwrite=args.overwrite, inputs=[args.input])
    vlm = _load(args)
    caption_tokens = args.caption_tokens if args.direction else None
    samples = limit_requests(vlm, samples, args.long_prompt, args.max_new_tokens, caption_tokens)
    config = GenerateConfig(
        direction=args.direction,
        mode=args.mode,
        alpha=args.alpha,
        layers=_layers(args.layers, vlm),
        positions=args.positions,
        max_new_tokens=args.max_new_tokens,
        caption_tokens=args.caption_tokens,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    captioner = None
    if args.captioner:
        from shiftdc.models import load_vlm
        from shiftdc.parallel.distributed import rank_device

        captioner = load_vlm(args.captioner, dtype=args.dtype, device=args.device or rank_device())
    tally = generate_job(vlm, samples, args.out, config, captioner=captioner)
    what = "ShiftDC" if args.direction else "plain"
    print(f"{_tally_line(tally, len(samples))} {what} responses -> {args.out}")
    tally.check(args.max_failed)


def cmd_make_tiny(args: argparse.Namespace) -> None:
    from shiftdc.models.tiny import make_tiny_model

    out = make_tiny_model(args.family, args.out, seed=args.seed)
    print(f"tiny random {args.family} checkpoint -> {out} (random weights: mechanics only)")


def cmd_make_testbed(args: argparse.Namespace) -> None:
    from shiftdc.testbed.build import build_testbed

    out = build_testbed(args.out, force=args.force)
    print(f"testbed LLaVA checkpoint (SmolLM2-135M + committed small weights) -> {out}")


def cmd_measure_testbed(args: argparse.Namespace) -> None:
    from shiftdc.testbed.measure import measure_testbed

    measure_testbed(
        args.model,
        args.out,
        n=args.n,
        cells=args.cells,
        only=args.only,
        max_new_tokens=args.max_new_tokens,
        caption_tokens=args.caption_tokens,
        batch_size=args.batch_size,
        direction=args.direction,
        device=args.device,
        probe=args.probe,
    )


def cmd_demo(args: argparse.Namespace) -> None:
    if args.family is None:
        from shiftdc.testbed.demo import run_default_demo

        run_default_demo(args.out, model_dir=args.model, n=args.n, progress=not args.quiet)
        return
    from shiftdc.cli.mechanics_demo import run_demo

    run_demo(args.out, family=args.family, progress=not args.quiet)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from shiftdc.eval.runs import RunConfig, evaluate, load_items, open_run
    from shiftdc.records.failures import check_failed

    config = RunConfig(
        **_flags(
            RunConfig,
            args,
            data_dir=str(args.data_dir) if args.data_dir else None,
            direction=str(args.direction) if args.direction else None,
            judge_options=_judge_options(args),
            benchmark_options=_benchmark_options(args),
            defense_options=_given(args, "mode", "alpha", "layers", "positions"),
        )
    )
    config.validate()
    open_run(args.out)
    items = load_items(config)
    summary = evaluate(
        _load(args),
        config,
        args.out,
        batch_size=args.batch_size,
        progress=not args.quiet,
        items=items,
    )
    print(_headline(summary, args.out))
    check_failed(
        summary["n_errors"], summary["n_records"], args.max_failed, args.out / "records.jsonl"
    )


def _flags(config: type, args: argparse.Namespace, **by_hand: object) -> dict:
    """Keywords for the `config` dataclass: the flags named like its fields, then `by_hand`."""
    from dataclasses import fields

    names = {f.name for f in fields(config)}
    return {**{k: v for k, v in vars(args).items() if k in names}, **by_hand}


def _given(args: argparse.Namespace, *names: str) -> dict:
    """The flags among `names` that were set on the command line (not None)."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def _judge_options(args: argparse.Namespace) -> dict:
    opts = {}
    if getattr(args, "judge_model", None):
        opts["model"] = args.judge_model
    if getattr(args, "judge_template", None):
        opts["template"] = args.judge_template
    if getattr(args, "judge_context", None):
        if args.judge != "llm":
            raise InputError("--judge-context applies to --judge llm only")
        opts["context"] = args.judge_context
    return opts


def _benchmark_options(args: argparse.Namespace) -> dict:
    """Loader options from --subset/--scenarios/--formats (comma-separated lists)."""
    opts: dict = {}
    if args.subset:
        opts["subset"] = args.subset
    for key in ("scenarios", "formats"):
        value = getattr(args, key)
        if value:
            opts[key] = [v.strip() for v in value.split(",") if v.strip()]
    return opts


def _headline(summary: dict, where: Path) -> str:
    from shiftdc.eval._format import pct

    return (
        f"{summary['defense']} | judge {summary['judge']} | ASR {pct(summary['asr'])} "
        f"(n={summary['n']}) | over-refusal {pct(summary.get('over_refusal'))} | "
        f"utility {pct(summary.get('utility'))} | failed {summary.get('n_errors', 0)} of "
        f"{summary.get('n_records', '?')} items -> {where}/report.md"
    )


def cmd_compare(args: argparse.Namespace) -> None:
    from shiftdc.eval.compare import compare_runs

    table = compare_runs(args.runs, out=args.out, by=args.by)
    print(table)


def cmd_rescore(args: argparse.Namespace) -> None:
    from shiftdc.eval.rescore import rescore

    counting = {"unparsed_verdicts": args.unparsed_verdicts, "yes_no_rule": args.yes_no_rule}
    summary = rescore(
        args.run,
        args.judge,
        _judge_options(args),
        out_dir=args.out,
        counting=counting,
        progress=not args.quiet,
    )
    print(_headline(summary, args.out or args.run / f"rescore-{args.judge}"))


def cmd_analyze(args: argparse.Namespace) -> None:
    from shiftdc.analysis.model_run import AnalyzeConfig, analyze_model

    vlm = _load(args)
    config = AnalyzeConfig(
        **_flags(
            AnalyzeConfig,
            args,
            layers=_layers(args.calibrate_layers, vlm),
            n_folds=args.folds,
            tsne=not args.no_tsne,
            use_cache=not args.no_cache,
            progress=not args.quiet,
        )
    )
    res = analyze_model(vlm, args.out, config)
    b, a = res["findings"]["before"], res["findings"]["after"]
    print(
        f"layer {b['layer']}: text->vision probe accuracy {b['text_vision_accuracy']:.2f} before, "
        f"{a['text_vision_accuracy']:.2f} after ShiftDC -> {args.out}/analysis.md"
    )


def cmd_serve(args: argparse.Namespace) -> None:
    import os

    try:
        from shiftdc.serve import ServeConfig, serve
    except ImportError as exc:
        raise ShiftDCError(
            f"shiftdc serve needs its web packages ({exc.name} is missing): "
            'pip install "shiftdc[serve]"'
        ) from exc

    api_key = args.api_key or os.environ.get("SHIFTDC_API_KEY") or None
    config = _flags(
        ServeConfig, args, guard=not args.no_guard, api_key=api_key, timeout_s=args.timeout
    )
    serve(ServeConfig(**config))


def cmd_tune(args: argparse.Namespace) -> None:
    from shiftdc.tuning import TuneConfig, tune
    from shiftdc.tuning.grid import split_layer_specs

    config = TuneConfig(
        **_flags(
            TuneConfig,
            args,
            layer_specs=split_layer_specs(args.layers) if args.layers else None,
            alphas=args.alpha,
            attacks=args.attacks.split(","),
            input=str(args.input) if args.input else None,
            limit=args.limit or None,
            progress=not args.quiet,
            store=not args.no_store,
        )
    )
    direction = nullcontext(args.direction)
    if args.model is None:
        from shiftdc.testbed.build import ensure_testbed

        args.model = str(ensure_testbed())
    if args.direction is None:
        from shiftdc.testbed.build import shipped_direction_for
        from shiftdc.tuning.run import shipped_direction_copy

        if shipped_direction_for(args.model) is not None:
            # the testbed: tune a copy of its shipped direction, which stays as it is
            direction = shipped_direction_copy(args.out)
    with direction as path:
        table = tune(_load(args), args.out, config, direction=path)
    rec = table["recommendation"]
    where = "" if args.no_store or rec is None else " (stored with the direction)"
    print(f"recommended: {table['recommended']}{where}; {table['reason']} -> {args.out}/table.md")


def cmd_check(args: argparse.Namespace) -> None:
    from shiftdc.cli.check import run

    if args.model is None:
        from shiftdc.testbed.build import ensure_testbed

        args.model = str(ensure_testbed())
    run(args, _load(args))
