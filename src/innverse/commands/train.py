"""innverse train: train a model with the innverse training engine.

Run "innverse train" for the list of tasks and "innverse train TASK --help" for a task's options.
--resume continues the run in --out exactly where its last checkpoint left it; settings not given
again are taken from the checkpoint. Under "torchrun --nproc_per_node N -m innverse train ..." the
same command trains with DistributedDataParallel (--batch-size is the global batch, split evenly over
the processes). Ctrl-C / SIGTERM finish the current step, save a checkpoint and exit (code 130 / 143).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import types
import typing
from typing import Any

from innverse.errors import UserError

EXAMPLES = """\
examples:
  innverse train winnet --data ../shared/data/Train400 --val ../shared/data/Set12 --sigma 25 --out runs/s25
  innverse train ddpm --data fashion-mnist --size 32 --channels 1 --ema 0.999 --out runs/ddpm-fmnist
  innverse train durrnet --model durrnet --out runs/durrnet-lite
  innverse train winnet --out runs/s25 --resume
  torchrun --nproc_per_node 4 -m innverse train winnet --data DIR --sigma 25 --out runs/s25
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``train``; the task and its options are parsed in :func:`run` (tasks load lazily)."""
    p = subparsers.add_parser(
        "train",
        help="train a model (innverse train lists the tasks)",
        description=__doc__,
        add_help=False,
        usage="innverse train TASK [options]   (innverse train TASK --help)",
    )
    p.add_argument("-h", "--help", action="store_true", dest="train_help", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, metavar="N", default=None, help=argparse.SUPPRESS)
    p.add_argument("argv", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


# ------------------------------------------------------------------------------ engine options
def _engine_options(p: argparse.ArgumentParser) -> None:
    S = argparse.SUPPRESS
    g = p.add_argument_group("run")
    g.add_argument(
        "--out",
        metavar="DIR",
        default=S,
        help="run folder: checkpoint/, model/, log.csv (default: runs/TASK)",
    )
    g.add_argument(
        "--resume", action="store_true", default=S, help="continue the run in --out from its last checkpoint"
    )
    g.add_argument(
        "--force", action="store_true", default=S, help="start a fresh run even if --out holds a checkpoint"
    )
    g.add_argument(
        "--init",
        metavar="MODEL",
        default=S,
        help="start from these weights (model folder, checkpoint or pretrained name)",
    )
    length = g.add_mutually_exclusive_group()
    length.add_argument(
        "--max-steps", type=int, metavar="N", default=S, help="optimizer steps in the whole run"
    )
    length.add_argument(
        "--epochs",
        type=float,
        metavar="E",
        default=S,
        help="passes over the training data (default: the task's)",
    )
    g.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        default=S,
        help="end this run within SECONDS: the step count is fitted to the measured speed",
    )
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default=S, help="default: cuda if available")
    g.add_argument(
        "--amp",
        choices=["bf16", "fp16", "none"],
        default=S,
        help="mixed precision on CUDA (default bf16 where supported); CPU trains in float32",
    )
    g.add_argument("--compile", action="store_true", default=S, help="torch.compile the training step")
    g.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=S,
        help="prepare batches in a background thread when >= 1 (default 1 on CUDA, 0 on CPU)",
    )
    g.add_argument("--ckpt-every", type=int, metavar="N", default=S, help="checkpoint every N steps (1000)")
    g.add_argument("--val-every", type=int, metavar="N", default=S, help="validate every N steps (2000)")
    g.add_argument("--log-every", type=int, metavar="N", default=S, help="log.csv row every N steps (50)")
    g.add_argument("--no-progress", action="store_true", default=S, help="no progress bar")
    g.add_argument("--inject-nan-at", type=int, default=S, help=S)  # testing aid
    o = p.add_argument_group("optimisation (defaults: the task's recipe)")
    o.add_argument("--batch-size", type=int, metavar="B", default=S, help="global batch size")
    o.add_argument("--lr", type=float, default=S, help="initial learning rate")
    o.add_argument(
        "--lr-schedule",
        choices=["step", "cosine", "constant"],
        default=S,
        help="step: x LR_DROP at LR_DROP_AT of the run; cosine: down to lr x LR_DROP",
    )
    o.add_argument(
        "--lr-drop-at", type=float, default=S, help="fraction of the run where the step drop happens"
    )
    o.add_argument("--lr-drop", type=float, default=S, help="factor of the drop (or the cosine floor)")
    o.add_argument("--warmup", type=int, metavar="N", default=S, help="linear warm-up steps")
    o.add_argument("--clip", type=float, default=S, help="gradient-norm clipping, 0 disables")
    o.add_argument("--seed", type=int, default=S, help="seed of the data order, noise and initialisation (0)")
    o.add_argument(
        "--ema",
        type=float,
        metavar="DECAY",
        default=S,
        help="keep an exponential moving average of the weights (validated and exported)",
    )


#: engine options of the command line besides the recipe (:data:`innverse.train.engine.ENGINE_RECIPE`)
_RUN_KEYS = (
    "out",
    "resume",
    "force",
    "init",
    "max_steps",
    "epochs",
    "time_limit",
    "device",
    "amp",
    "compile",
    "workers",
    "ckpt_every",
    "val_every",
    "log_every",
)


# -------------------------------------------------------------------------------- task options
def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(inner type, optional) of ``X | None``."""
    args = typing.get_args(tp)
    if (typing.get_origin(tp) in (typing.Union, types.UnionType)) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def _task_options(p: argparse.ArgumentParser, config_cls: type) -> list[str]:
    """One option per field of the task's config dataclass; returns the field names."""
    g = p.add_argument_group("task settings")
    hints = typing.get_type_hints(config_cls)
    names = []
    for f in dataclasses.fields(config_cls):
        if not f.metadata.get("cli", True):
            continue
        tp, _ = _unwrap(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        help_ = f.metadata.get("help", "")
        default = None if f.default is dataclasses.MISSING else f.default
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        if default not in (None, "", False) and "default" not in help_:
            help_ = f"{help_} (default {_show(default)})"
        kw: dict[str, Any] = {"default": argparse.SUPPRESS, "help": help_, "dest": f.name}
        origin = typing.get_origin(tp)
        if tp is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif origin is tuple:
            targs = typing.get_args(tp)
            kw["type"] = targs[0]
            kw["nargs"] = "+" if (len(targs) == 2 and targs[1] is Ellipsis) else len(targs)
            kw["metavar"] = "V"
        elif tp in (int, float, str):
            kw["type"] = tp
            kw["metavar"] = f.metadata.get("metavar", {int: "N", float: "X", str: "VALUE"}[tp])
            if "choices" in f.metadata:
                kw["choices"] = f.metadata["choices"]
        else:
            continue
        g.add_argument(flag, **kw)
        names.append(f.name)
    return names


def _show(v: Any) -> str:
    if isinstance(v, tuple):
        return " ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def _list_tasks() -> str:
    from innverse.train import get_task, task_names

    lines = [
        "usage: innverse train TASK [options]   (innverse train TASK --help for its options)",
        "",
        "tasks:",
    ]
    for name in task_names():
        lines.append(f"  {name:<14} {get_task(name).summary}")
    return "\n".join(lines) + "\n\n" + EXAMPLES


def _task_examples(name: str, task_cls: type) -> str:
    """The task's own example command lines, then resuming and torchrun for that task."""
    lines = ["examples:", *(f"  {x}" for x in getattr(task_cls, "examples", ()))]
    lines.append(f"  innverse train {name} --out runs/{name} --resume")
    lines.append(f"  torchrun --nproc_per_node 2 -m innverse train {name} ... --out runs/{name}")
    return "\n".join(lines) + "\n"


class _ArgError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:  # one line through UserError, not exit 2 + usage
        raise _ArgError(message)


def _task_parser(name: str, task_cls: type) -> tuple[argparse.ArgumentParser, list[str]]:
    from innverse.commands.options import help_formatter

    doc = (task_cls.__doc__ or "").strip().splitlines()
    p = _Parser(
        prog=f"innverse train {name}",
        description=doc[0].replace("``", "") if doc else None,
        epilog=_task_examples(name, task_cls),
        formatter_class=help_formatter(argparse.RawDescriptionHelpFormatter),
    )
    fields = _task_options(p, task_cls.Config)
    _engine_options(p)
    return p, fields


# ------------------------------------------------------------------------------------------ run
def build(argv: list[str]):
    """(task, EngineConfig, nan-at) from the command line, with checkpoint settings on --resume."""
    from innverse.train import EngineConfig, get_task, task_names
    from innverse.train.checkpoint import has_checkpoint, read_config
    from innverse.train.engine import ENGINE_RECIPE

    name = argv[0]
    if name not in task_names():
        raise UserError(f"unknown task {name!r} (tasks: {', '.join(task_names())})")
    task_cls = get_task(name)
    parser, fields = _task_parser(name, task_cls)
    try:
        ns = vars(parser.parse_args(argv[1:]))
    except _ArgError as e:
        raise UserError(str(e)) from None
    out = ns.get("out") or f"runs/{name}"
    saved = read_config(out) if (ns.get("resume") and has_checkpoint(out)) else None
    settings: dict[str, Any] = {}
    engine: dict[str, Any] = {}
    if saved is not None:
        if saved.get("task", saved.get("kind")) != name or "settings" not in saved:
            what = saved.get("task") or saved.get("kind")
            raise UserError(
                f"--resume: {out} holds a {what} run"
                + ("" if what != name else " of an older innverse (start afresh; --init keeps its weights)")
            )
        settings.update(saved["settings"])
        engine.update(saved.get("recipe", {}).get("engine", {}))
        engine.update(saved.get("run", {}))
        if saved.get("total_steps") and "max_steps" not in ns and "epochs" not in ns:
            engine["max_steps"] = int(saved["total_steps"])
        if "sigma" in ns or "sigma_range" in ns:  # explicit noise settings replace both
            settings.pop("sigma", None)
            settings.pop("sigma_range", None)
    elif ns.get("resume") and not any(k in ns for k in fields):
        raise UserError(
            f"--resume: {out} holds no checkpoint to resume (give the training settings to start one)"
        )
    for k in fields:
        if k in ns:
            settings[k] = ns[k]
    for k in (*_RUN_KEYS, *ENGINE_RECIPE):
        if k in ns:
            engine[k] = ns[k]
    if "resume" in ns and saved is not None and "max_steps" in ns:
        if int(ns["max_steps"]) < int(saved.get("step", 0)):
            print(
                f"innverse train: warning: --max-steps {ns['max_steps']} is below the checkpoint's step "
                f"{saved.get('step')}",
                file=sys.stderr,
            )
    hints = typing.get_type_hints(task_cls.Config)
    known = {f.name for f in dataclasses.fields(task_cls.Config)}
    for k, v in list(settings.items()):
        if k not in known:
            settings.pop(k)
        elif isinstance(v, list):
            settings[k] = tuple(v)
        elif typing.get_origin(_unwrap(hints[k])[0]) is tuple and v is not None:
            settings[k] = tuple(v)
    seed = int(engine.get("seed", 0))
    task = task_cls(task_cls.Config(**settings), seed=seed)
    engine["out"] = out
    engine["progress"] = not ns.get("no_progress", False)
    if "workers" not in engine:
        engine["workers"] = 1 if engine.get("device", "auto") != "cpu" and _cuda_available() else 0
    cfg = EngineConfig(
        **{k: v for k, v in engine.items() if k in {f.name for f in dataclasses.fields(EngineConfig)}}
    )
    return task, cfg, ns.get("inject_nan_at")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _nan_hook(at: int):
    fired = [False]

    def hook(step: int, loss):
        if step == at and not fired[0]:
            fired[0] = True
            return loss * math.nan
        return loss

    return hook


def run(args: argparse.Namespace) -> int:
    """List the tasks, or run the training described by the command line (0, or 128+signal)."""
    argv = list(args.argv)
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(int(args.threads))
    if getattr(args, "train_help", False) or not argv or argv[0] in ("-h", "--help"):
        print(_list_tasks(), end="")
        return 0
    from innverse.train import Engine

    task, cfg, nan_at = build(argv)
    hook = _nan_hook(int(nan_at)) if nan_at is not None else None
    return Engine(task, cfg, loss_hook=hook).run()
