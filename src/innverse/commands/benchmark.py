"""``innverse benchmark``: reproducible denoising, blind-denoising and deblurring tables.

Examples::

    innverse benchmark denoise --data Set12 --data BSD68 --sigma 15,25,50 \\
        --model winnet-s25 --model winnet-blind --baselines bayes,visu --out results/denoise
    innverse benchmark denoise --data Set12 --model winnet-blind --estimate --crop-figure --out r/
    innverse benchmark blind --data Set12 --model winnet-blind --estimator nenet --out results/blind
    innverse benchmark deblur --data Set12 --kernels levin:1-8 --noise 2.55 --out results/deblur

The protocol is :mod:`innverse.bench.protocol`: noise levels on the 0-255 scale, image ``i`` of a set
(sorted file names) gets the noise of ``torch.Generator().manual_seed(i)``.  Each run writes
``<task>.md``, ``<task>.json`` (everything, per-image values included) and PNG figures (with
matplotlib) into ``--out`` and prints the table.  Timings use ``--threads`` torch threads (default 1)
on ``--device`` (default cpu).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from innverse.errors import UserError

__all__ = ["add_parser", "run"]


def _common(p: argparse.ArgumentParser, data_default: str | None = None) -> None:
    what = "test-set folder or name under the data root (Set12, BSD68); repeat for several"
    p.add_argument(
        "--data",
        action="append",
        metavar="DIR_OR_SET",
        help=what + (f" (default {data_default})" if data_default else ""),
    )
    p.add_argument("--limit", type=int, metavar="N", help="use only the first N images of each set")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the .md/.json/.png results")
    p.add_argument("--crop-figure", action="store_true", help="also draw 96x96 crops of the first image")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="torch CPU threads (default 1)")
    p.add_argument("--device", default="cpu", metavar="DEV", help="cpu or cuda (default cpu)")
    p.add_argument("--estimator", default="nenet", metavar="NAME_OR_PATH", help="noise estimator (nenet)")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``innverse benchmark`` and its tasks (restoration, diffusion, flows, hiding, attacks)."""
    from innverse.bench.blind import BLIND_SIGMAS
    from innverse.bench.deblur import DEFAULT_BORDER, DEFAULT_NOISE

    p = subparsers.add_parser(
        "benchmark",
        help="reproduce the published tables: restoration, diffusion, flows, hiding, attacks",
        description="Reproducible benchmarks on fixed test sets with seeded degradations (image i of a "
        "set gets noise from torch.Generator().manual_seed(i)). Writes <task>.md, <task>.json and PNG "
        "figures into --out and prints the Markdown table.",
    )
    sub = p.add_subparsers(dest="task", metavar="TASK", required=True)

    d = sub.add_parser(
        "denoise",
        help="Gaussian denoising: PSNR/SSIM per set and noise level",
        description="Gaussian denoising at each --sigma (0-255 scale). Non-blind models get the true "
        "sigma; blind models too, unless --estimate (then --estimator estimates it per image).",
    )
    _common(d)
    d.add_argument("--sigma", default="15,25,50", metavar="LIST", help="noise levels (default 15,25,50)")
    d.add_argument(
        "--model",
        action="append",
        metavar="NAME_OR_PATH",
        help="denoiser (pretrained name, checkpoint folder or .pth); repeat for several; 'none' for "
        "baselines only (default: every shipped WINNet)",
    )
    d.add_argument(
        "--baselines",
        default="bayes,visu",
        metavar="LIST",
        help="classical baselines from bayes,visu,bm3d, or none (default bayes,visu)",
    )
    d.add_argument("--estimate", action="store_true", help="blind models get NENet's sigma estimate")

    b = sub.add_parser(
        "blind",
        help="blind denoising with estimated sigma and the estimator's error (the paper's table)",
        description="Blind denoising: each --model with sigma estimated per image by --estimator, and "
        "with the true sigma as a reference; plus the estimator's mean absolute error (0-255 scale).",
    )
    _common(b)
    b.add_argument(
        "--sigma",
        default=",".join(f"{s:g}" for s in BLIND_SIGMAS),
        metavar="LIST",
        help="noise levels (default 5,15,...,145)",
    )
    b.add_argument("--model", action="append", metavar="NAME_OR_PATH", help="blind denoiser (winnet-blind)")

    c = sub.add_parser(
        "deblur",
        help="plug-and-play deblurring vs. Wiener on blurred, noisy test sets",
        description="Each image is blurred by each kernel (circular convolution) and gets the seeded "
        "noise at --noise (0-255 scale). Methods: the blurred input, a Wiener filter (nsr = 5 sigma^2 / "
        "(var(y) - sigma^2)) and plug-and-play WINNet driven by the noise estimator. PSNR/SSIM leave "
        f"out --border pixels (default {DEFAULT_BORDER}).",
    )
    _common(c, "Set12")
    c.add_argument("--kernels", default="levin:1-8", metavar="LIST", help="kernels (default levin:1-8)")
    c.add_argument(
        "--noise",
        default=f"{DEFAULT_NOISE:g}",
        metavar="S",
        help=f"noise std, 0-255 scale (default {DEFAULT_NOISE:g})",
    )
    c.add_argument("--model", default="winnet-blind", metavar="NAME_OR_PATH", help="blind denoiser")
    c.add_argument("--max-iter", type=int, metavar="N", help="PnP iteration cap (solver default)")
    c.add_argument("--lam", type=float, metavar="L", help="PnP lambda (solver default)")
    c.add_argument("--border", type=int, default=DEFAULT_BORDER, metavar="PX", help="metric border")

    # the options of the library benchmarks come from their modules (each imports only torch)
    from innverse.bench.attack import add_attack_arguments
    from innverse.bench.glow import add_glow_arguments
    from innverse.bench.hiding import add_hiding_arguments
    from innverse.bench.posterior import add_posterior_arguments
    from innverse.bench.superres import add_superres_arguments

    s = sub.add_parser(
        "superres",
        help="INDigo vs DPS, DDRM, ILVR, bicubic and the INN alone on Fashion-MNIST 4x super-resolution",
        description="INDigo and its baselines on Fashion-MNIST 4x super-resolution (PSNR, SSIM, FID "
        "(local features), consistency error, seconds per image). Writes superres.md, superres.json and "
        "figure grids.",
    )
    add_superres_arguments(s)
    h = sub.add_parser(
        "hiding",
        help="HiNet image hiding vs LSB substitution after an 8-bit PNG round trip, with steganalysis",
        description="HiNet image hiding vs LSB substitution (8-bit PNG round trip): PSNR/SSIM of stego "
        "and revealed images, steganalysis accuracy, seconds per image.",
    )
    add_hiding_arguments(h)
    q = sub.add_parser(
        "posterior",
        help="posterior INNs and cINNs (8 modes, inverse kinematics): MMD, re-simulation, calibration",
        description="Posterior INN and cINN on the 8-modes toy and the inverse-kinematics arm: posterior "
        "MMD against the exact or ABC posterior, re-simulation error, calibration error, training "
        "seconds, with FrEIA's cINN side by side. Writes posterior.md, posterior.json and plots.",
    )
    add_posterior_arguments(q)
    w = sub.add_parser(
        "glow",
        help="Glow on Fashion-MNIST: test bits/dim, ablation, normflows side by side, memory, samples",
        description="Glow on Fashion-MNIST: test bits/dim against an independent-pixel histogram, the "
        "paper's coupling/permutation ablation, normflows' Glow side by side, InvertibleCheckpoint "
        "memory, and sample grids. Writes glow.md, glow.json and sample grids.",
    )
    add_glow_arguments(w)
    k = sub.add_parser(
        "attack",
        help="AdvINN vs FGSM, PGD and C&W on Fashion-MNIST: ASR, L2, Linf, SSIM, PSNR, FID (local)",
        description="Adversarial attacks on the Fashion-MNIST classifier at one L-infinity budget: attack "
        "success rate, L2, L-infinity, SSIM, PSNR, FID (local features), transfer success rate to a "
        "second classifier and seconds per image. Writes attack.md, attack.json and a figure.",
    )
    add_attack_arguments(k)

    # dereflect's options need no more than torch (imported above): registered directly
    from innverse.bench.dereflect import add_dereflect_arguments

    r = sub.add_parser(
        "dereflect",
        help="reflection removal: DURRNet, ablations and the U-Net on the fixed synthetic test pairs",
        description="Reflection removal on the fixed synthetic test pairs (CBSD68[56:] centre crops mixed "
        "by ERRNet's synthesis, seeded): PSNR/SSIM of T and R, seconds per megapixel, parameters and "
        "GFLOP per megapixel of each model and of the input itself. Writes dereflect.md, dereflect.json "
        "and dereflect.png.",
    )
    add_dereflect_arguments(r)

    # ddpm's options need no more than torch (imported above): registered directly
    from innverse.bench.ddpm import add_ddpm_arguments

    g = sub.add_parser(
        "ddpm",
        help="diffusion-prior sample quality per DDPM/DDIM sampler: FID (local features), top-class prob.",
        description="Sample quality of a Fashion-MNIST diffusion prior per sampler: FID (local features) "
        "against the test images, with training images as the floor, the classifier's mean top-class "
        "probability and class spread, and seconds per sample. Writes ddpm.md, ddpm.json and sample grids.",
    )
    add_ddpm_arguments(g)
    return p


def _note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _setup(args: argparse.Namespace) -> torch.device:
    from innverse.devices import resolve_device

    if args.threads < 1:
        raise UserError(f"--threads must be >= 1, got {args.threads}")
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be >= 1, got {args.limit}")
    torch.set_num_threads(args.threads)
    return resolve_device(args.device, option="--device")


def _sets(args: argparse.Namespace, default: str | None = None) -> list:
    from innverse.bench.protocol import load_testsets

    specs = args.data or ([default] if default else [])
    if not specs:
        raise UserError("give at least one --data folder or set name")
    return load_testsets(specs, args.limit)


def _finish(report: Any, args: argparse.Namespace) -> int:
    from innverse.bench.report import render_table, write_report

    report.data["options"] = {
        k: v for k, v in vars(args).items() if not k.startswith("_") and k not in ("command",)
    }
    files = write_report(report, args.out, _note)
    print(render_table(report))
    _note("wrote " + ", ".join(str(f) for f in files))
    return 0


def _denoise(args: argparse.Namespace) -> int:
    from innverse.bench.denoise import benchmark_denoise
    from innverse.bench.methods import BASELINES, load_denoisers, load_estimator, shipped_denoisers
    from innverse.bench.options import parse_names, parse_sigmas

    sigmas = parse_sigmas(args.sigma)
    baselines = parse_names(args.baselines, BASELINES, "--baselines")
    dev = _setup(args)
    specs = [s for s in (args.model or shipped_denoisers()) if s.lower() != "none"]
    if not specs and not baselines:
        raise UserError("nothing to benchmark: give --model and/or --baselines")
    sets = _sets(args)
    models = load_denoisers(specs, dev)
    estimator = None
    if args.estimate and any(getattr(m, "blind", False) for _, m in models):
        estimator = load_estimator(args.estimator, dev)
    report = benchmark_denoise(
        sets,
        sigmas,
        models,
        baselines,
        estimator=estimator,
        estimator_name=args.estimator,
        device=dev,
        crop_figure=args.crop_figure,
        log=_note,
    )
    return _finish(report, args)


def _blind(args: argparse.Namespace) -> int:
    from innverse.bench.blind import benchmark_blind
    from innverse.bench.methods import load_denoisers, load_estimator
    from innverse.bench.options import parse_sigmas
    from innverse.commands.options import BLIND_DENOISER

    sigmas = parse_sigmas(args.sigma)
    dev = _setup(args)
    sets = _sets(args)
    models = load_denoisers(args.model or [BLIND_DENOISER], dev)
    estimator = load_estimator(args.estimator, dev)
    report = benchmark_blind(
        sets,
        sigmas,
        models,
        estimator,
        estimator_name=args.estimator,
        device=dev,
        crop_figure=args.crop_figure,
        log=_note,
    )
    return _finish(report, args)


def _deblur(args: argparse.Namespace) -> int:
    from innverse.bench.deblur import benchmark_deblur, parse_kernels
    from innverse.bench.methods import load_denoisers, load_estimator
    from innverse.bench.options import parse_sigma
    from innverse.data.kernels import load_kernel

    noise = parse_sigma(args.noise, "--noise")
    specs = parse_kernels(args.kernels)
    if args.max_iter is not None and args.max_iter < 0:
        raise UserError(f"--max-iter must be >= 0, got {args.max_iter}")
    if args.lam is not None and not args.lam > 0:
        raise UserError(f"--lam must be a positive number, got {args.lam}")
    if args.border < 0:
        raise UserError(f"--border must be >= 0, got {args.border}")
    dev = _setup(args)
    kernels = [(s, load_kernel(s)) for s in specs]
    sets = _sets(args, "Set12")
    [(_, den)] = load_denoisers([args.model], dev)
    est = load_estimator(args.estimator, dev)
    report = benchmark_deblur(
        sets,
        kernels,
        noise,
        den,
        est,
        denoiser_name=args.model,
        estimator_name=args.estimator,
        max_iter=args.max_iter,
        lam=args.lam,
        border=args.border,
        device=dev,
        crop_figure=args.crop_figure,
        log=_note,
    )
    return _finish(report, args)


def _superres(args: argparse.Namespace) -> int:
    from innverse.bench.superres import run_superres_from_args

    return run_superres_from_args(args)


def _hiding(args: argparse.Namespace) -> int:
    from innverse.bench.hiding import run_hiding

    return run_hiding(args)


def _posterior(args: argparse.Namespace) -> int:
    from innverse.bench.posterior import run_posterior

    return run_posterior(args)


def _glow(args: argparse.Namespace) -> int:
    from innverse.bench.glow import run_glow

    return run_glow(args)


def _attack(args: argparse.Namespace) -> int:
    from innverse.bench.attack import run_attack_benchmark

    return run_attack_benchmark(args)


def _dereflect(args: argparse.Namespace) -> int:
    from innverse.bench.dereflect import run_dereflect

    return run_dereflect(args)


def _ddpm(args: argparse.Namespace) -> int:
    from innverse.bench.ddpm import run_ddpm_from_args

    return run_ddpm_from_args(args)


def run(args: argparse.Namespace) -> int:
    """Run ``innverse benchmark <task>``."""
    tasks = {
        "denoise": _denoise,
        "blind": _blind,
        "deblur": _deblur,
        "superres": _superres,
        "hiding": _hiding,
        "dereflect": _dereflect,
        "ddpm": _ddpm,
        "posterior": _posterior,
        "glow": _glow,
        "attack": _attack,
    }
    return tasks[args.task](args)
