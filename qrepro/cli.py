"""python -m qrepro: run a chapter's sweep, train one model, list what exists, show records, benchmark.

    python -m qrepro list                      # the chapters, methods, models, data sets and profiles to name below
    python -m qrepro run CHAPTER -p bit 2 -p profile quick -p data cifar10-jpeg
    python -m qrepro run all --workers auto    # every chapter's default runs, one process per core (make book)
    python -m qrepro train --arch resnet20 --data digits --method METHOD --bits 4 --epochs 5
    python -m qrepro records CHAPTER
    python -m qrepro data download cifar10 --root data/cifar10
    python -m qrepro bench
    torchrun --nproc_per_node 4 -m qrepro run CHAPTER -p profile quick      # data-parallel (DDP) training
    python -m qrepro run CHAPTER -p profile quick -p seeds 4 --shared-only  # then, on each of 4 GPUs:
    CUDA_VISIBLE_DEVICES=K python -m qrepro run CHAPTER -p profile quick -p seeds 4 --shard K/4

``-p NAME VALUE`` takes the chapter notebook's parameters, with papermill's type inference. A chapter with a
follow-up phase (planned from the first phase's records, see qrepro.chapters.base) runs it next; under
--shard or --shared-only the follow-up waits for every first-phase record: repeat both steps once all shards are done.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from . import data as datasets
from . import models
from .chapters import CHAPTERS, split_parameters
from .methods import METHODS, PTQ_METHODS
from .config import PTQConfig, Schedule, TrainConfig
from .params import infer_scalar
from .profiles import PROFILES, resolve_data
from .report import accuracy_table, provenance_table, runs_frame, show_accuracy
from .runs import get_or_run, recorded, run_chapters, unreadable
from .runs.pool import usable_workers

Config = TrainConfig | PTQConfig


def _print_records(records: list[dict]) -> None:
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        frame = runs_frame(records)
        # one row per method, hyper-parameters (variant) and bit-width: other settings are never averaged together
        print(show_accuracy(accuracy_table(frame, keys=("method", "variant", "bits")), links=False)
              .data.to_string(index=False))
        print()
        print(provenance_table(frame, anchors=False).data.to_string(index=False))


def cmd_run(args: argparse.Namespace) -> None:
    names = list(CHAPTERS) if "all" in args.chapter else list(dict.fromkeys(args.chapter))
    values = {name: infer_scalar(value) for name, value in args.param}
    chapters = [split_parameters(name, values) for name in names]
    runtime = chapters[0][1]
    shown = run_chapters([params for params, _ in chapters], **runtime, progress=not args.no_progress,
                         shard=args.shard, shared_only=args.shared_only, compile=args.compile,
                         keep_going=args.keep_going, workers=usable_workers(args.workers))
    if args.quiet:
        print(f"{sum(len(one.records) for one in shown)} records of {', '.join(names)}")
        return
    for name, one in zip(names, shown):
        if len(names) > 1:
            print(f"\n# {name}")
        _print_records(one.records)


def cmd_train(args: argparse.Namespace) -> None:
    schedule = Schedule(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                        weight_decay=args.weight_decay, lr_schedule=args.lr_schedule)
    config = TrainConfig(chapter="cli", data=resolve_data(args.profile, args.data), arch=args.arch,
                         schedule=schedule, method=args.method, bits=args.bits, seed=args.seed, profile=args.profile)
    record = get_or_run(config, data_root=args.data_root, device=args.device, progress=not args.no_progress,
                        compile=args.compile)
    _print_records([record])


def cmd_records(args: argparse.Namespace) -> None:
    records = recorded(args.chapter)
    for error in unreadable(args.chapter):
        print(f"unreadable: {error}", file=sys.stderr)
    if not records:
        print(f"no records for chapter {args.chapter}")
        return
    _print_records(records)


def cmd_list(args: argparse.Namespace) -> None:
    print("chapters: ", ", ".join(CHAPTERS))
    for name, chapter in CHAPTERS.items():
        defaults = ", ".join(f"{key}={default!r}" for key, default in chapter.defaults().items())
        print(f"  {name} parameters: {defaults} + data_root, device")
    print("methods:  ", ", ".join(METHODS), "| post-training:", ", ".join(PTQ_METHODS) or "-")
    print("models:   ", ", ".join(models.available()))
    print("data sets:", ", ".join(datasets.available()))
    print("profiles: ", "; ".join(f"{p.name} ({p.description})" for p in PROFILES.values()))


def cmd_download(args: argparse.Namespace) -> None:
    from .data.cifar10 import download

    download(args.root)


def cmd_check(args: argparse.Namespace) -> None:
    from .check import check
    from .runs.execute import resolve_device

    device = resolve_device(args.device)
    results = check(device, compile=args.compile)
    frame = pd.DataFrame([dataclasses.asdict(r) for r in results])
    print(frame.assign(error=frame["error"].fillna("ok")).to_string(index=False))
    failed = [f"{r.method} on {r.arch}" for r in results if r.error]
    if failed:
        raise RuntimeError(f"check failed on {device} for: {', '.join(failed)}")
    print(f"check: {len(results)} passed on {device} in {sum(r.seconds for r in results):.1f} s")


def cmd_plan(args: argparse.Namespace) -> None:
    from .plan import import_results, plan, summary

    if args.import_dir:
        added = import_results(Path(args.import_dir))
        print("\n".join(added) or "nothing new")
        print(f"{len(added)} file(s) added under runs/: commit them (git add runs/); the model.pt files are the "
              "parents of runs a later call will make, which it starts from")
        return
    if not args.out:
        raise ValueError("plan needs --out DIR (or --import DIR)")
    outcome = plan(Path(args.out), args.minutes, profile=args.profile, data=args.data, data_root=args.data_root,
                   device=args.device, workers=args.workers)
    print(summary(outcome))


def cmd_bench(args: argparse.Namespace) -> None:
    from .bench import main as bench_main

    bench_main(args.only, args.device)


def build_parser() -> argparse.ArgumentParser:
    names = f"chapters: {', '.join(CHAPTERS)}\nmethods: {', '.join(sorted({*METHODS, *PTQ_METHODS}))}\n"
    parser = argparse.ArgumentParser(prog="python -m qrepro", description=f"{__doc__}\n{names}",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a chapter's sweep (what its notebook runs)")
    run.add_argument("chapter", nargs="+", choices=[*CHAPTERS, "all"],
                     help="one or more chapters (all: every one); -p parameters apply to each")
    run.add_argument("--workers", default="1", metavar="N",
                     help="train in N processes on this machine (auto: one per core); for runs that take seconds, "
                          "whose steps keep one core busy")
    run.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("--no-progress", action="store_true")
    run.add_argument("--quiet", action="store_true", help="print no tables, only how many records there are")
    run.add_argument("--compile", action="store_true", help="torch.compile the training forward")
    run.add_argument("--keep-going", action="store_true",
                     help="a run that diverges, or that its method refuses for this model, does not stop the sweep: "
                          "the runs that do not start from it go on")
    split_runs = run.add_mutually_exclusive_group()
    split_runs.add_argument("--shard", metavar="K/N", help="run only shard K of N (one per GPU or host)")
    split_runs.add_argument("--shared-only", action="store_true", help="run only what every shard starts from")
    run.set_defaults(func=cmd_run)

    train = sub.add_parser("train", help="train one model (records under runs/cli/)")
    train.add_argument("--arch", default="resnet20", choices=models.available())
    train.add_argument("--data", default="", help="data set (default: the profile's)")
    train.add_argument("--data-root", default=None)
    train.add_argument("--profile", default="smoke", choices=list(PROFILES))
    train.add_argument("--method", default="fp", choices=list(METHODS))
    train.add_argument("--bits", type=int, default=32)
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--optimizer", default="sgd", choices=Schedule.OPTIMIZERS)
    train.add_argument("--lr", type=float, default=0.1)
    train.add_argument("--weight-decay", type=float, default=5e-4)
    train.add_argument("--lr-schedule", default="cosine", choices=Schedule.LR_SCHEDULES)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto")
    train.add_argument("--no-progress", action="store_true")
    train.add_argument("--compile", action="store_true", help="torch.compile the training forward")
    train.set_defaults(func=cmd_train)

    records = sub.add_parser("records", help="show a chapter's recorded runs")
    records.add_argument("chapter")
    records.set_defaults(func=cmd_records)

    sub.add_parser("list", help="chapters, methods, models, data sets, profiles").set_defaults(func=cmd_list)

    data = sub.add_parser("data", help="data set utilities")
    data_sub = data.add_subparsers(dest="action", required=True)
    download = data_sub.add_parser("download", help="download a data set (needs internet)")
    download.add_argument("name", choices=["cifar10"])
    download.add_argument("--root", required=True)
    download.set_defaults(func=cmd_download)

    check = sub.add_parser("check", help="every method on every model, two steps and an evaluation on a device")
    check.add_argument("--device", default="auto")
    check.add_argument("--compile", action="store_true", help="torch.compile the training forward, as runs would")
    check.set_defaults(func=cmd_check)

    plan = sub.add_parser("plan", help="fill the book's missing runs within a time limit (a lent GPU), or import them")
    plan.add_argument("--minutes", type=float, default=9.0, help="deadline: no run starts that would end after it")
    plan.add_argument("--out", help="folder for the records and weights to bring back (two tar files)")
    plan.add_argument("--import", dest="import_dir", metavar="DIR", help="put what a plan call left in DIR under runs/")
    plan.add_argument("--profile", default="quick", choices=list(PROFILES))
    plan.add_argument("--data", default="", help="data set (default: the profile's)")
    plan.add_argument("--data-root", default=None)
    plan.add_argument("--device", default="auto")
    plan.add_argument("--workers", type=int, default=1, help="processes sharing the device")
    plan.set_defaults(func=cmd_plan)

    bench = sub.add_parser("bench", help="throughput and memory benchmarks")
    bench.add_argument("--only", nargs="*", default=None, help="benchmark names to run (default: all)")
    bench.add_argument("--device", default="auto")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError, FloatingPointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
