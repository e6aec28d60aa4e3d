"""``innverse sample``: draw images from a generative prior.

Examples::

    innverse sample ddpm -o samples/                                  # 64 DDIM-50 samples of ddpm-fmnist
    innverse sample ddpm --model runs/ddpm/model -n 16 --sampler ddpm --steps 1000 -o out/
    innverse sample ddpm --model path/to/diffusers-folder --seed 3 -o out/ --force
    innverse sample glow --model glow-fmnist -n 64 --temperature 0.7 -o grid.png

``ddpm`` samples a diffusion prior: a shipped name (``ddpm-fmnist``), a folder written by
``innverse train ddpm``, or a diffusers ``UNet2DModel`` + ``DDPMScheduler`` folder.  The output
folder receives ``grid.png`` and one PNG per sample (``0000.png``, ``0001.png``, ...) at the
prior's resolution.  Files are written atomically; existing ones are only replaced with ``--force``
(checked before any sampling).  The samples depend on ``--seed`` and ``--batch-size`` only, not on
the device.

``glow`` samples a normalizing flow (a shipped name such as ``glow-fmnist`` or a folder written by
``innverse train glow``) at a temperature (``eps ~ N(0, T^2 I)``) and writes one grid PNG.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from innverse.commands.options import Reporter, add_runtime_options
from innverse.errors import UserError

__all__ = ["add_parser", "run", "SUMMARY", "DEFAULT_PRIOR"]

SUMMARY = "sample images from a diffusion prior (DDIM / DDPM) or a Glow flow"
#: the prior ``innverse sample ddpm`` uses without ``--model``
DEFAULT_PRIOR = "ddpm-fmnist"
#: the flow ``innverse sample glow`` uses without ``--model``
DEFAULT_FLOW = "glow-fmnist"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``innverse sample`` (with its ``ddpm`` and ``glow`` actions) and return its parser."""
    p = subparsers.add_parser(
        "sample",
        help=SUMMARY,
        description="Draw images from a generative prior.",
    )
    actions = p.add_subparsers(dest="sample_action", metavar="ACTION")
    d = actions.add_parser(
        "ddpm",
        help="sample a diffusion prior (ours or a diffusers folder)",
        description="Sample a diffusion prior with DDIM(eta) or ancestral DDPM sampling and write "
        "OUT/grid.png plus one PNG per sample (0000.png, ...), or, when OUT ends in .png, the grid alone. "
        "Files are written atomically; existing "
        "files need --force.",
    )
    d.add_argument(
        "--model",
        default=DEFAULT_PRIOR,
        metavar="NAME_OR_FOLDER",
        help="shipped prior name, a prior folder, or a diffusers UNet2DModel + DDPMScheduler folder",
    )
    d.add_argument("-n", "--num", type=int, default=64, metavar="N", help="number of samples")
    d.add_argument("--steps", type=int, default=50, metavar="K", help="sampling steps (respaced)")
    d.add_argument("--sampler", choices=("ddim", "ddpm"), default="ddim", help="sampler")
    d.add_argument(
        "--eta", type=float, default=0.0, metavar="ETA", help="DDIM stochasticity (0: deterministic)"
    )
    d.add_argument("--seed", type=int, default=0, help="seed of the noise")
    d.add_argument("--batch-size", type=int, default=64, metavar="B", help="samples per forward pass")
    d.add_argument("--nrow", type=int, metavar="K", help="images per grid row (default: about sqrt(N))")
    d.add_argument("--no-grid", action="store_true", help="write the single images only")
    d.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output folder (or a .png file: the grid alone)"
    )
    d.add_argument("--force", action="store_true", help="overwrite existing files")
    add_runtime_options(d)

    g = actions.add_parser(
        "glow",
        help="sample a Glow flow at a temperature into one grid PNG",
        description="Sample a Glow normalizing flow at a temperature (eps ~ N(0, T^2 I)) and write the "
        "samples as one grid PNG. The file is written atomically; an existing file needs --force.",
    )
    g.add_argument("--model", default=DEFAULT_FLOW, metavar="NAME_OR_FOLDER", help="shipped flow or folder")
    g.add_argument("-n", "--num", type=int, default=64, metavar="N", help="number of samples")
    g.add_argument("--temperature", type=float, default=0.7, metavar="T", help="sampling temperature")
    g.add_argument("--seed", type=int, default=0, help="seed of the noise")
    g.add_argument("--nrow", type=int, metavar="K", help="images per grid row (default: about sqrt(N))")
    g.add_argument("-o", "--output", required=True, metavar="OUT.png", help="grid image to write")
    g.add_argument("--force", action="store_true", help="overwrite an existing file")
    add_runtime_options(g)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``innverse sample ACTION``; returns the exit code."""
    if getattr(args, "sample_action", None) == "ddpm":
        return _run_ddpm(args)
    if getattr(args, "sample_action", None) == "glow":
        return _run_glow(args)
    raise UserError("missing action: use 'innverse sample ddpm -o OUT' or 'innverse sample glow -o OUT.png'")


def _targets(out: Path, n: int, grid: bool) -> list[Path]:
    width = max(4, len(str(n - 1)))
    files = [out / f"{i:0{width}d}.png" for i in range(n)]
    return ([out / "grid.png"] if grid else []) + files


def _run_ddpm(args: argparse.Namespace) -> int:
    rep = Reporter("innverse sample ddpm", args.quiet)
    if args.num < 1:
        raise UserError(f"-n must be at least 1, got {args.num}")
    if args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not (math.isfinite(args.eta) and args.eta >= 0):
        raise UserError(f"--eta must be a finite number >= 0, got {args.eta}")
    if args.nrow is not None and args.nrow < 1:
        raise UserError(f"--nrow must be at least 1, got {args.nrow}")
    if args.sampler == "ddpm" and args.eta:
        raise UserError("--eta is a DDIM setting (use --sampler ddim)")
    if not str(args.model).strip():
        raise UserError("--model is empty (give a prior name or folder)")
    out = Path(args.output)
    grid_only = out.suffix.lower() == ".png"  # -o grid.png: the grid alone, as 'sample glow' writes
    if out.suffix.lower() in (".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"):
        raise UserError(f"{out}: samples are written as PNG (give a folder, or a .png name for the grid)")
    if grid_only and args.no_grid:
        raise UserError(f"{out}: a .png output is the grid; --no-grid writes single images into a folder")
    if grid_only and out.is_dir():
        raise UserError(f"{out}: is a folder (a .png output name is the grid file)")
    if not grid_only and out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    targets = [out] if grid_only else _targets(out, args.num, not args.no_grid)
    existing = [p for p in targets if p.exists()]
    if existing and not args.force:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise UserError(f"{existing[0]}{more}: output exists (use --force to overwrite)")

    from innverse.data.io import write_image
    from innverse.devices import resolve_device
    from innverse.diffusion.images import image_grid, sample_images
    from innverse.diffusion.prior import load_prior

    device = resolve_device(args.device, option="--device")
    prior = load_prior(args.model)
    if args.steps > prior.schedule.T:
        raise UserError(f"--steps {args.steps}: the prior has only {prior.schedule.T} diffusion steps")
    t0 = time.perf_counter()
    imgs = sample_images(
        prior, args.num, args.steps, args.sampler, args.eta, args.seed, device, args.batch_size
    )
    secs = time.perf_counter() - t0
    files = targets[1:] if not args.no_grid else targets
    for path, img in zip(files, imgs if files else [], strict=True):  # none when -o is the grid file
        a = img.numpy()
        write_image(path, a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0), force=args.force)
    if not args.no_grid:
        write_image(targets[0], image_grid(imgs, args.nrow), force=args.force)
    what = f"{args.sampler.upper()}-{args.steps}" + (
        f" eta {args.eta:g}" if args.sampler == "ddim" and args.eta else ""
    )
    rep.info(
        f"{prior.source}: {args.num} samples ({what}, seed {args.seed}) -> {out}{'' if grid_only else '/'} "
        f"in {secs:.1f} s ({secs / args.num:.2f} s per sample)"
    )
    return 0


def _run_glow(args: argparse.Namespace) -> int:
    rep = Reporter("innverse sample glow", args.quiet)
    if args.num < 1:
        raise UserError(f"-n must be at least 1, got {args.num}")
    if not (math.isfinite(args.temperature) and 0 <= args.temperature <= 2):
        raise UserError(f"--temperature must be a number in [0, 2], got {args.temperature}")
    if args.nrow is not None and args.nrow < 1:
        raise UserError(f"--nrow must be at least 1, got {args.nrow}")
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise UserError(f"{out}: the grid is written as PNG (give a .png file name)")
    if out.is_dir():
        raise UserError(f"{out}: is a folder (give a .png file name)")
    if out.exists() and not args.force:
        raise UserError(f"{out}: output exists (use --force to overwrite)")
    if not str(args.model).strip():
        raise UserError("--model is empty (give a flow name or folder)")

    from innverse.data.io import write_image
    from innverse.devices import resolve_device
    from innverse.models import load_model

    device = resolve_device(args.device, option="--device")
    flow = load_model(args.model, device=str(device))
    if not hasattr(flow, "sample_grid"):
        raise UserError(f"{args.model}: is a {getattr(flow, 'kind', 'non-flow')} model, not a Glow flow")
    t0 = time.perf_counter()
    grid = flow.sample_grid(args.num, args.temperature, seed=args.seed, nrow=args.nrow)
    secs = time.perf_counter() - t0
    write_image(out, grid, force=args.force)
    rep.info(
        f"{args.model}: {args.num} samples (temperature {args.temperature:g}, seed {args.seed}) -> {out} "
        f"in {secs:.1f} s"
    )
    return 0
