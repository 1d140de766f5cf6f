"""``harstream train``: added to the ``harstream`` command through the ``harstream.commands`` entry point."""
from __future__ import annotations

import argparse
from pathlib import Path

from harstream.cli import UsageError, add_data
from harstream.datasets.common import VALIDATION_SUBJECTS

#: The names in ``archs.ARCHS`` (a test keeps them equal), listed here so that ``harstream --help`` need not import Keras.
ARCH_NAMES = ("lstm", "cnn-lstm", "convlstm", "hcnn", "anywhere", "anyone")


def register(sub) -> None:
    p = sub.add_parser("train", allow_abbrev=False, help="train an architecture N times, report, export the best-on-validation to TFLite")
    p.add_argument("--arch", required=True, choices=ARCH_NAMES)
    p.add_argument("--repeats", type=int, default=1)
    add_data(p, many=True)
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--epochs", type=int, default=None, help="default: the architecture's own")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--without", choices=["hapt", "motionsense"], default=None,
                   help="anyone only: leave a dataset out of training (the across-dataset check)")
    p.add_argument("--name", default=None, help="file name of the exported model (default: the arch)")
    p.add_argument("--max-windows", type=int, default=None, help="use at most this many windows per split (quick runs, tests)")
    p.add_argument("--validation-subjects", default=None,
                   help="training subjects held out to choose the repeat to export (default '7 15 26'); "
                        "'none' fits every repeat on all training subjects and exports the first")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    try:
        from .train import train
    except ImportError as exc:
        raise UsageError(f"training needs the 'train' extra ({exc.name} is missing): pip install 'harstream[train]'") from None
    if args.arch == "anyone":  # its own pipeline (training/anyone.py): both datasets, varied copies, made-up out-of-set motion
        from harstream.datasets import detect

        from .anyone import train_anyone

        paths = {detect(p).name: p for p in (args.data or [])}
        if set(paths) != {"hapt", "motionsense"}:
            raise UsageError("--arch anyone trains on both datasets: --data HAPT_ZIP MOTIONSENSE_ZIP")
        train_anyone(paths["hapt"], paths["motionsense"], args.repeats, args.epochs or 18, args.out, args.seed, args.without, args.name)
        return 0
    validation = VALIDATION_SUBJECTS if args.validation_subjects is None else subjects(args.validation_subjects)
    train(args.arch, args.repeats, args.data, args.out, epochs=args.epochs, seed=args.seed,
          max_windows=args.max_windows, name=args.name, validation_subjects=validation)
    return 0


def subjects(text: str) -> tuple[int, ...]:
    if text.strip().lower() == "none":
        return ()
    try:
        return tuple(int(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise UsageError(f"--validation-subjects {text!r}: subject numbers like '7 15 26', or 'none'") from None
