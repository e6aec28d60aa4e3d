"""``innverse denoise``: denoise image files or folders with WINNet.

Examples::

    innverse denoise noisy.png -o clean.png --sigma 25
    innverse denoise photos/ more.jpg -o out/            # blind: σ estimated per image
    innverse denoise --sample --sigma 25 -o out/ --compare

``--sigma`` is on the 0–255 scale of 8-bit images (also for 16-bit files).  Without it the noise level is
estimated per image (NENet) and printed.  Outputs keep the input's format and bit depth; an existing
output is never replaced without ``--force``, and every file is written atomically.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from innverse.data import color as colorlib
from innverse.data.degrade import add_noise, psnr
from innverse.data.io import IMAGE_EXTENSIONS, from_tensor, read_image, sample_path, to_tensor, write_image
from innverse.errors import UserError
from innverse.solvers.denoise import (
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    check_sigma,
    denoise_tensor,
    estimate_sigma,
    get_denoiser,
    get_estimator,
    min_size_of,
    resolve_device,
)

__all__ = [
    "add_parser",
    "add_inference_options",
    "run",
    "plan_outputs",
    "compare_image",
    "find_images",
    "SAMPLE_SIGMA",
]

#: noise added to the bundled sample when no --sigma is given (0–255 scale); the noise seed is 0
SAMPLE_SIGMA = 25.0



def add_inference_options(p: argparse.ArgumentParser, force_help: str) -> None:
    """Options shared by the restoration commands: device, tiling, colour handling, --force."""
    p.add_argument("--device", metavar="DEV", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--tile", type=int, default=DEFAULT_TILE, metavar="N", help="tile size, 0 = whole image")
    p.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, metavar="N", help="tile overlap in pixels")
    p.add_argument(
        "--color",
        choices=colorlib.COLOR_SPACES,
        default=colorlib.DEFAULT_COLOR_SPACE,
        help=f"colour handling (default {colorlib.DEFAULT_COLOR_SPACE})",
    )
    p.add_argument("--force", action="store_true", help=force_help)

def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``innverse denoise``."""
    p = subparsers.add_parser(
        "denoise",
        help="denoise images (files or folders) with WINNet",
        description="Denoise image files or folders with WINNet. --sigma is on the 0-255 scale of 8-bit "
        "images; without it the noise level is estimated per image (NENet). Outputs keep the input's "
        "format and bit depth and are written atomically; existing outputs need --force.",
    )
    p.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="image files or folders ('sample': the bundled image)"
    )
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (one input) or folder")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--sigma", metavar="S", help="noise std on the 0-255 scale (default: estimate it, --blind)"
    )
    g.add_argument("--blind", action="store_true", help="estimate the noise level per image (the default)")
    p.add_argument(
        "--model", metavar="NAME_OR_PATH", help="denoiser: pretrained name, checkpoint folder or .pth"
    )
    p.add_argument("--estimator", metavar="NAME_OR_PATH", help="noise estimator for --blind (default: nenet)")
    add_inference_options(p, "overwrite existing outputs")
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="average over the 8 flips/rotations (8x slower, a little better)",
    )
    p.add_argument("--compare", action="store_true", help="also write <stem>_compare.png (noisy | denoised)")
    p.add_argument("--clean", metavar="REF", help="clean reference: PSNR in the output and the comparison")
    p.add_argument("--sample", action="store_true", help="denoise the bundled sample with synthetic noise")
    return p


# ------------------------------------------------------------------------------------------- planning


def find_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively, by extension), sorted; hidden entries skipped."""
    found = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
            found.append(p)
    return found


def _is_folder_target(out: Path, raw: str) -> bool:
    return out.is_dir() or raw.endswith(("/", "\\")) or out.suffix == ""


def plan_outputs(inputs: Iterable[str], output: str) -> list[tuple[Path, Path]]:
    """Pairs (input file, output file).

    One input file and an ``output`` with an image suffix → that file; otherwise ``output`` is a
    folder: a file input goes to ``folder/<name>``, a folder input's images keep their relative paths.
    Inputs that do not exist are kept (they fail, with their name, when read).
    """
    inputs = list(inputs)
    out = Path(output)
    pairs: list[tuple[Path, Path]] = []
    single = len(inputs) == 1 and not Path(inputs[0]).is_dir()
    if single and not _is_folder_target(out, output):
        if out.suffix.lower() not in IMAGE_EXTENSIONS:
            raise UserError(f"{out}: unknown output format '{out.suffix}' (use .png, .jpg, .tif or .bmp)")
        return [(Path(inputs[0]), out)]
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder (several inputs need an output folder)")
    if not out.exists() and out.suffix.lower() in IMAGE_EXTENSIONS:
        raise UserError(f"{out}: looks like a file name, but several inputs need an output folder")
    for raw in inputs:
        src = Path(raw)
        if src.is_dir():
            imgs = find_images(src)
            if not imgs and len(inputs) > 1:
                print(f"innverse: warning: {src}: no images found", file=sys.stderr)
            pairs += [(p, out / p.relative_to(src)) for p in imgs]
        else:
            pairs.append((src, out / src.name))
    seen: dict[Path, Path] = {}
    for src, dst in pairs:
        key = dst.resolve()
        if key in seen:
            raise UserError(f"{seen[key]} and {src} would both be written to {dst}")
        seen[key] = src
    if not pairs:
        raise UserError(f"no images found in {', '.join(inputs)}")
    return pairs


def _stem_path(dst: Path, tag: str) -> Path:
    return dst.with_name(f"{dst.stem}_{tag}.png")


# ------------------------------------------------------------------------------------------- comparison


def compare_image(left: np.ndarray, right: np.ndarray, captions: tuple[str, str]) -> np.ndarray:
    """``left | right`` side by side (4-pixel white gap) with a caption strip under each (float in [0, 1])."""
    from PIL import Image, ImageDraw, ImageFont

    def as_rgb(a: np.ndarray) -> np.ndarray:
        a = np.clip(np.asarray(a, dtype=np.float32), 0, 1)
        return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a

    gray = left.ndim == 2 and right.ndim == 2
    a, b = as_rgb(left), as_rgb(right)
    h, w = a.shape[:2]
    gap, strip = 4, 18
    canvas = np.ones((h + strip, 2 * w + gap, 3), dtype=np.float32)
    canvas[:h, :w] = a
    canvas[:h, w + gap :] = b
    img = Image.fromarray((canvas * 255 + 0.5).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    for i, text in enumerate(captions):
        draw.text((i * (w + gap) + 4, h + 3), text, fill=(0, 0, 0), font=font)
    out = np.asarray(img, dtype=np.float32) / 255.0
    return out.mean(axis=2) if gray else out


def _caption_pair(noisy_psnr: float | None, den_psnr: float | None, sigma: float, estimated: bool):
    if noisy_psnr is not None and den_psnr is not None:
        return f"noisy  PSNR {noisy_psnr:.2f} dB", f"denoised  PSNR {den_psnr:.2f} dB"
    tag = "estimated sigma" if estimated else "sigma"
    return f"noisy  ({tag} {sigma:.1f})", "denoised"


# ------------------------------------------------------------------------------------------------ run


class _Denoiser:
    """Models loaded once (the gray and the colour denoiser may differ), applied per file."""

    def __init__(self, args: argparse.Namespace, sigma: float | None):
        self.device = resolve_device(args.device)
        self.sigma = sigma
        self.spec = args.model
        if args.tile < 0 or (args.tile and not 0 <= args.overlap < args.tile):
            raise UserError(f"--tile must be >= 0 and --overlap in [0, tile), got {args.tile}/{args.overlap}")
        self.tile, self.overlap, self.color = args.tile or None, args.overlap, args.color
        self.ensemble = bool(getattr(args, "ensemble", False))
        self.models: dict[int, object] = {}
        self.warned = False
        self.model(1)  # load (and validate) the gray model up front: a bad --model fails before any file
        self.estimator = get_estimator(args.estimator, self.device) if sigma is None else None

    def model(self, channels: int):
        """The denoiser for gray (1) or colour (3) images."""
        if channels not in self.models:
            color = self.color if channels == 3 else None
            self.models[channels] = get_denoiser(self.spec, self.sigma, self.device, color=color)
        return self.models[channels]

    @property
    def min_size(self) -> int:
        """Smallest image side the loaded models accept."""
        return min_size_of(self.models[1], self.estimator)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, float, bool]:
        """Denoise a (1,C,H,W) tensor; returns (result, σ on 0–255 scale, estimated?)."""
        x = x.to(self.device)
        if self.sigma is None:
            sig = estimate_sigma(x, self.estimator)
        else:
            sig = torch.full((1,), self.sigma / 255.0, device=self.device)
        model = self.model(x.shape[1])
        color = self.color
        if (
            x.shape[1] == 3
            and colorlib.needs_per_channel_sigma(color)
            and getattr(model, "blind", True) is False
        ):
            if not self.warned:
                print(
                    f"innverse denoise: note: --color {color} needs a blind model; "
                    "the non-blind model is applied to R, G and B",
                    file=sys.stderr,
                )
                self.warned = True
            color = "rgb"
        out = denoise_tensor(
            x, sig, model, tile=self.tile, overlap=self.overlap, color=color, ensemble=self.ensemble
        )
        return out.cpu(), float(sig[0]) * 255.0, self.sigma is None


def _check_free(paths: Iterable[Path], force: bool) -> None:
    for p in paths:
        if p.is_dir():
            raise UserError(f"{p}: is a directory, expected an output file name")
        if p.exists() and not force:
            raise UserError(f"{p}: output exists (use --force to overwrite)")


def _load_clean(ref: str | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if ref is None:
        return None
    clean, _ = read_image(ref)
    if clean.shape != shape:
        raise UserError(f"{ref}: reference is {clean.shape}, the input is {shape}")
    return clean


def _one(den: _Denoiser, src: Path, dst: Path, args: argparse.Namespace, show) -> None:
    outputs = [dst] + ([_stem_path(dst, "compare")] if args.compare else [])
    _check_free(outputs, args.force)
    arr, info = read_image(src, min_size=den.min_size)
    clean = _load_clean(args.clean, arr.shape)
    out_t, sigma, estimated = den(to_tensor(arr))
    out = from_tensor(out_t)
    noisy_psnr = den_psnr = None
    if clean is not None:
        noisy_psnr, den_psnr = psnr(arr, clean), psnr(np.clip(out, 0, 1), clean)
    write_image(dst, out, info.bit_depth, alpha=info.alpha, force=args.force, icc_profile=info.icc_profile)
    if args.compare:
        cmp = compare_image(arr, out, _caption_pair(noisy_psnr, den_psnr, sigma, estimated))
        write_image(outputs[1], cmp, 8, force=args.force)
    msg = f"{src} -> {dst}  ({'estimated ' if estimated else ''}sigma {sigma:.2f}"
    if den_psnr is not None:
        msg += f", PSNR {noisy_psnr:.2f} -> {den_psnr:.2f} dB"
    show(msg + ")")


def _run_sample(den: _Denoiser, args: argparse.Namespace, noise_sigma: float) -> int:
    out = Path(args.output)
    if _is_folder_target(out, args.output):
        dst = out / "sample.png"
    else:
        if out.suffix.lower() != ".png":
            raise UserError(f"{out}: the sample is written as PNG; use a .png name or a folder")
        dst = out
    noisy_path = _stem_path(dst, "noisy")
    outputs = [dst, noisy_path] + ([_stem_path(dst, "compare")] if args.compare else [])
    _check_free(outputs, args.force)
    clean, _ = read_image(sample_path())
    x = to_tensor(clean)
    y = add_noise(x, noise_sigma, seed=0)
    out_t, sigma, estimated = den(y)
    noisy, res = from_tensor(y), from_tensor(out_t)
    p_noisy, p_den = psnr(y, x), psnr(out_t.clamp(0, 1), x)
    write_image(noisy_path, noisy, 8, force=args.force)
    write_image(dst, res, 8, force=args.force)
    if args.compare:
        caps = (f"noisy (sigma {noise_sigma:g})  {p_noisy:.2f} dB", f"denoised  {p_den:.2f} dB")
        write_image(outputs[2], compare_image(noisy, res, caps), 8, force=args.force)
    how = f"estimated sigma {sigma:.2f}" if estimated else f"sigma {sigma:.2f}"
    print(
        f"sample: noise sigma {noise_sigma:g}, {how}; PSNR noisy {p_noisy:.2f} dB -> denoised {p_den:.2f} dB"
    )
    for p in outputs:
        print(f"wrote {p}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``innverse denoise``; returns the exit code (1 when some files of several failed)."""
    sigma = check_sigma(args.sigma, "--sigma") if args.sigma is not None else None
    inputs = list(args.inputs)
    sample = args.sample or (inputs == ["sample"] and not Path("sample").exists())
    if sample and inputs and inputs != ["sample"]:
        raise UserError("--sample takes no INPUT")
    if not sample and not inputs:
        raise UserError("no INPUT given (files, folders, or --sample)")
    if args.clean is not None and (sample or len(inputs) != 1 or Path(inputs[0]).is_dir()):
        raise UserError("--clean needs exactly one input file")
    if sample:
        den = _Denoiser(args, sigma)
        return _run_sample(den, args, SAMPLE_SIGMA if sigma is None else sigma)
    pairs = plan_outputs(inputs, args.output)
    den = _Denoiser(args, sigma)
    if len(pairs) == 1:
        _one(den, *pairs[0], args, print)
        return 0
    from tqdm import tqdm

    failed = 0
    bar = tqdm(pairs, desc="denoise", unit="file", file=sys.stderr, disable=None)
    for src, dst in bar:
        try:
            _one(den, src, dst, args, tqdm.write)
        except UserError as e:
            failed += 1
            tqdm.write(f"innverse denoise: error: {e}", file=sys.stderr)
    bar.close()
    if failed:
        print(f"innverse denoise: {failed} of {len(pairs)} files failed", file=sys.stderr)
        return 1
    return 0
