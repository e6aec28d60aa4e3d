"""``innverse train``: train a WINNet denoiser or a NENet noise estimator (the paper's recipe).

Noise levels are given on the 0-255 scale.  ``--resume`` continues the run in ``--out`` exactly
where its last checkpoint left it; settings not given again are taken from the checkpoint.
Under ``torchrun --nproc_per_node N`` the same command trains with DistributedDataParallel
(``--batch-size`` is the global batch, split evenly over the processes).
"""

from __future__ import annotations

import argparse
import math

from innverse.errors import UserError

EPILOG = """\
examples:
  innverse train winnet --data ../shared/data/Train400 --val ../shared/data/Set12 --sigma 25 --out runs/s25
  innverse train winnet --data DIR --sigma-range 0 55 --levels 2 --out runs/blind
  innverse train nenet --data DIR --out runs/nenet --max-steps 20000
  innverse train winnet --out runs/s25 --resume
  torchrun --nproc_per_node 4 -m innverse train winnet --data DIR --sigma 25 --out runs/s25

Ctrl-C / SIGTERM finish the current step, save a checkpoint and exit (code 130 / 143).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``train`` and return its parser."""
    p = subparsers.add_parser(
        "train",
        help="train a WINNet denoiser or a NENet noise estimator",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("kind", choices=["winnet", "nenet"], help="what to train")
    p.add_argument(
        "--data", metavar="DIR", help="folder of training images (gray or colour; converted to gray)"
    )
    p.add_argument("--val", metavar="DIR", help="folder of validation images (PSNR, or NENet's sigma error)")
    noise = p.add_mutually_exclusive_group()
    noise.add_argument(
        "--sigma", type=float, metavar="S", help="train at this noise level, 0-255 scale (default 25)"
    )
    noise.add_argument(
        "--sigma-range",
        type=float,
        nargs=2,
        metavar=("A", "B"),
        help="blind training: sigma ~ U[A, B] per batch (NENet default 0 55)",
    )
    p.add_argument("--levels", type=int, metavar="K", help="WINNet levels (default 1)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--max-steps", type=int, metavar="N", help="optimizer steps in the whole run")
    length.add_argument(
        "--epochs",
        type=float,
        metavar="E",
        help="passes over the patches (default 50 for WINNet, 8 for NENet)",
    )
    p.add_argument(
        "--batch-size", type=int, metavar="B", help="global batch (default 32 for WINNet, 16 for NENet)"
    )
    p.add_argument("--lr", type=float, help="initial learning rate (default 1e-3; x0.1 at 60%% of the run)")
    p.add_argument(
        "--out", metavar="DIR", help="run folder: checkpoint/, model/, log.csv (default runs/KIND)"
    )
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--force", action="store_true", help="start a fresh run even if --out holds a checkpoint")
    p.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="default: cuda if available"
    )
    p.add_argument("--seed", type=int, help="seed of the data order, noise and initialisation (default 0)")
    p.add_argument(
        "--ckpt-every", type=int, default=1000, metavar="N", help="checkpoint every N steps (default 1000)"
    )
    p.add_argument(
        "--val-every", type=int, default=2000, metavar="N", help="validate every N steps (default 2000)"
    )
    p.add_argument(
        "--log-every", type=int, default=50, metavar="N", help="log.csv row every N steps (default 50)"
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="prepare batches in a background thread when >= 1 (default 1 on CUDA, 0 on CPU)",
    )
    p.add_argument(
        "--amp",
        choices=["bf16", "fp16", "none"],
        help="mixed precision on CUDA (default bf16 where supported); CPU trains in float32",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")
    p.add_argument(
        "--init",
        metavar="MODEL",
        help="start from these weights (checkpoint or pretrained name; same network, blind or not)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="end this run within SECONDS: the total step count is fitted to the measured speed",
    )
    recipe = p.add_argument_group("recipe details")
    recipe.add_argument("--w-orth", type=float, help="weight of the CLISTA orthogonality loss (default 10)")
    recipe.add_argument(
        "--w-spec", type=float, help="weight of the predictor/updater spectral norm loss (default 0.1)"
    )
    recipe.add_argument(
        "--spec-every", type=int, help="add the spectral norm loss every N steps (default 10)"
    )
    recipe.add_argument("--clip", type=float, help="gradient norm clipping, 0 disables (default 1)")
    recipe.add_argument("--patch-size", type=int, help="patch side (default 40; 50 for blind/NENet)")
    recipe.add_argument("--stride", type=int, help="patch grid stride (default 10)")
    recipe.add_argument(
        "--train-pad",
        type=int,
        help="WINNet reflect padding while training (default 0: circular frame on the bare patch, "
        "1.44x cheaper than the inference padding 4 on 40x40 patches)",
    )
    recipe.add_argument(
        "--aug-times", type=int, help="passes over each patch position per epoch (default 1; 2 blind)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--inject-nan-at", type=int, default=None, help=argparse.SUPPRESS)  # testing aid
    return p


#: option name -> (TrainConfig field, default when neither given nor in the checkpoint)
_RECIPE_OPTIONS = {
    "sigma": "sigma",
    "sigma_range": "sigma_range",
    "batch_size": "batch_size",
    "lr": "lr",
    "w_orth": "w_orth",
    "w_spec": "w_spec",
    "spec_every": "spec_every",
    "clip": "clip",
    "seed": "seed",
    "patch_size": "patch_size",
    "stride": "stride",
    "aug_times": "aug_times",
    "train_pad": "train_pad",
}


def _config(args: argparse.Namespace):
    from innverse.train.checkpoint import has_checkpoint, read_config
    from innverse.train.trainer import TrainConfig

    out = args.out or f"runs/{args.kind}"
    saved = read_config(out) if (args.resume and has_checkpoint(out)) else None
    kw: dict = {}
    if saved is not None:
        if saved.get("kind") != args.kind:
            raise UserError(f"--resume: {out} holds a {saved.get('kind')} run, not {args.kind}")
        train = saved.get("train", {})
        kw.update({k: train[k] for k in _RECIPE_OPTIONS.values() if k in train})
        if train.get("sigma_range") is not None:
            kw["sigma_range"] = tuple(train["sigma_range"])
        kw["model_config"] = dict(train.get("model_config", {}))
        kw["scales"] = tuple(train.get("scales", (1.0, 0.9, 0.8, 0.7)))
        kw["data"] = saved.get("data") or ""
        kw["val"] = saved.get("val")
        if args.sigma is not None or args.sigma_range is not None:  # explicit noise settings replace both
            kw.pop("sigma", None)
            kw.pop("sigma_range", None)
    for opt, fld in _RECIPE_OPTIONS.items():
        v = getattr(args, opt)
        if v is not None:
            kw[fld] = tuple(v) if opt == "sigma_range" else v
    model_config = kw.setdefault("model_config", {})
    if args.levels is not None:
        if args.kind != "winnet":
            raise UserError("--levels applies to WINNet only")
        if args.levels < 1:
            raise UserError("--levels must be at least 1")
        model_config["levels"] = args.levels
    if args.data:
        kw["data"] = args.data
    if args.val:
        kw["val"] = args.val
    if not kw.get("data"):
        raise UserError("no training data: pass --data DIR")
    kw.setdefault("batch_size", 32 if args.kind == "winnet" else 16)
    if args.max_steps is not None:
        kw["max_steps"] = args.max_steps
    elif args.epochs is not None:
        kw["epochs"] = args.epochs
    elif saved is not None and saved.get("total_steps"):
        kw["max_steps"] = int(saved["total_steps"])
    workers = args.workers
    if workers is None:
        workers = 1 if args.device != "cpu" and _cuda_available() else 0
    return TrainConfig(
        kind=args.kind,
        out=out,
        ckpt_every=args.ckpt_every,
        val_every=args.val_every,
        log_every=args.log_every,
        device=args.device,
        amp=args.amp or "auto",
        compile=args.compile,
        time_limit=args.time_limit,
        init=args.init,
        workers=workers,
        resume=args.resume,
        force=args.force,
        progress=not args.no_progress,
        **kw,
    )


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
    """Run the training described by ``args``; 0 when finished, 128+signal when stopped."""
    from innverse.train.trainer import Trainer

    cfg = _config(args)
    hook = _nan_hook(args.inject_nan_at) if args.inject_nan_at is not None else None
    return Trainer(cfg, loss_hook=hook).run()
