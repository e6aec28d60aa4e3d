"""``innverse hide``: hide one or four secret images in a cover image with HiNet.

Examples::

    innverse hide cover.png secret.png -o stego.png
    innverse hide cover.png s1.png s2.png s3.png s4.png -o stego.png      # hinet-4
    innverse hide --sample -o out/                                          # the bundled examples

The stego image is written as an 8-bit PNG (lossless; JPEG would destroy the hidden images).  After
writing it, the file is read back and the secrets are revealed from it (with ``--seed``) to print how
well they come back.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from innverse.commands.files import require_output
from innverse.commands.options import Reporter, add_command, add_runtime_options, check_names
from innverse.errors import UserError

__all__ = ["add_parser", "run", "SUMMARY"]

SUMMARY = "hide secret images in a cover image (HiNet, invertible)"
PROG = "innverse hide"

DESCRIPTION = """\
Hide SECRET images in a COVER image with HiNet, an invertible network on Haar wavelet bands. The
result (-o) is an 8-bit PNG that looks like the cover; 'innverse reveal' gets the secrets back
from it. One secret uses the model hinet, four use hinet-4 (chosen from the count unless --model).
Cover and secrets must have the same size; an odd width or height is cut to even (last column /
row dropped, said in a note). Keep the stego file lossless: a JPEG copy loses the secrets."""

EPILOG = """\
examples:
  innverse hide cover.png secret.png -o stego.png
  innverse hide cover.png s1.png s2.png s3.png s4.png -o stego.png
  innverse hide --sample -o out/         bundled examples: writes out/cover.png, out/secret.png, out/stego.png
  innverse reveal stego.png -o revealed/
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``innverse hide``."""
    p = add_command(subparsers, "hide", SUMMARY, DESCRIPTION, EPILOG)
    p.add_argument("cover", nargs="?", metavar="COVER", help="the cover image")
    p.add_argument("secrets", nargs="*", metavar="SECRET", help="the secret image(s): 1 or 4")
    p.add_argument(
        "-o",
        "--output",
        metavar="STEGO.png",
        help="the stego image (.png); with --sample a folder (or a .png name)",
    )
    p.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="hinet (1 secret), hinet-4 (4 secrets) or a folder from 'innverse train hinet' "
        "(default: from the number of secrets)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of z for the check reveal (the one 'innverse reveal --seed' uses; default 0)",
    )
    p.add_argument(
        "--secrets",
        dest="sample_secrets",
        type=int,
        choices=[1, 4],
        default=None,
        help="with --sample: how many example secrets (default: 1, or what --model hides)",
    )
    p.add_argument(
        "--sample",
        action="store_true",
        help="use the bundled examples (a procedural cover, secrets cut from the CC0 sample photo)",
    )
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    add_runtime_options(p)
    return p


def _read_rgb(path: Path, what: str, rep: Reporter):
    """``(tensor (1, 3, H, W) on [0, 1], info)`` of an image file; gray is repeated, alpha noted."""
    from innverse.data.io import read_image, to_tensor

    arr, info = read_image(path)
    x = to_tensor(arr)
    if x.shape[1] == 1:
        rep.note(f"{path}: gray {what}: repeated into R, G and B")
        x = x.expand(-1, 3, -1, -1).contiguous()
    if info.alpha is not None:
        rep.note(f"{path}: the alpha channel of the {what} is not used")
    return x, info


def _output(args: argparse.Namespace) -> Path:
    out = Path(require_output(args, "the stego .png name"))
    if out.suffix.lower() != ".png":
        raise UserError(
            f"{out}: the stego image must be a .png (lossless); a lossy format such as JPEG "
            "destroys the hidden images"
        )
    if out.is_dir():
        raise UserError(f"{out}: is a folder; give the stego file name, e.g. {out / 'stego.png'}")
    return out


def _sample_paths(args: argparse.Namespace, n: int) -> tuple[Path, Path, list[Path]]:
    out = Path(require_output(args, "a folder, or the stego .png name"))
    if out.suffix.lower() == ".png":
        folder, stego = out.parent, out
    elif out.suffix:
        raise UserError(f"{out}: the stego image is written as .png; give a folder or a .png name")
    else:
        folder, stego = out, out / "stego.png"
    names = ["secret.png"] if n == 1 else [f"secret-{i}.png" for i in range(1, n + 1)]
    return stego, folder / "cover.png", [folder / s for s in names]


def _check_free(paths: list[Path], force: bool) -> None:
    for p in paths:
        if p.is_dir():
            raise UserError(f"{p}: is a folder, expected an output file name")
        if p.exists() and not force:
            raise UserError(f"{p}: output exists (use --force to overwrite)")


def run(args: argparse.Namespace) -> int:
    """Run ``innverse hide``; returns the exit code."""
    rep = Reporter(PROG, args.quiet)
    check_names(args, "--model")
    inputs = [a for a in [args.cover, *args.secrets] if a is not None]
    if args.sample:
        if inputs:
            raise UserError("--sample takes no COVER or SECRET")
    else:
        if len(inputs) < 2:
            raise UserError("give a COVER and at least one SECRET image (or --sample)")
    import torch

    from innverse.apps.hiding import (
        MODEL_FOR_SECRETS,
        even_crop,
        example_images,
        hide_tensor,
        load_hider,
        reveal_tensor,
    )
    from innverse.data.io import read_image, write_image
    from innverse.devices import resolve_device
    from innverse.metrics import psnr

    device = resolve_device(args.device, option="--device")
    if args.sample:
        if args.model is None:
            n = args.sample_secrets or 1
            model = MODEL_FOR_SECRETS[n]
        else:
            model = args.model
        net = load_hider(model, device)
        n = net.secrets
        if args.sample_secrets is not None and args.sample_secrets != n:
            raise UserError(f"--model {model} hides {n} secret image(s), not --secrets {args.sample_secrets}")
        stego_path, cover_path, secret_paths = _sample_paths(args, n)
        _check_free([stego_path, cover_path, *secret_paths], args.force)
        c8, s8 = example_images(n)
        cover = torch.from_numpy(c8).permute(2, 0, 1)[None].float() / 255
        secrets = [torch.from_numpy(s).permute(2, 0, 1)[None].float() / 255 for s in s8]
        for p, a in zip([cover_path, *secret_paths], [c8, *s8], strict=True):
            write_image(p, a, 8, force=args.force)
        cover_info = None
        label = f"sample ({cover_path}, {', '.join(map(str, secret_paths))})"
    else:
        if args.sample_secrets is not None:
            raise UserError("--secrets is for --sample; otherwise the number of SECRET files counts")
        stego_path = _output(args)
        n = len(inputs) - 1
        if args.model is None:
            if n not in MODEL_FOR_SECRETS:
                raise UserError(f"{n} secret images: the shipped models hide 1 (hinet) or 4 (hinet-4)")
            model = MODEL_FOR_SECRETS[n]
        else:
            model = args.model
        paths = [Path(a) for a in inputs]
        for p in paths:
            if p.resolve() == stego_path.resolve():
                raise UserError(f"{p}: the output would replace an input")
        _check_free([stego_path], args.force)
        net = load_hider(model, device)
        if net.secrets != n:
            hint = f" (for {n}: --model {MODEL_FOR_SECRETS[n]})" if n in MODEL_FOR_SECRETS else ""
            raise UserError(
                f"--model {model} hides {net.secrets} secret image"
                f"{'s' if net.secrets > 1 else ''}; got {n}{hint}"
            )
        cover, cover_info = _read_rgb(paths[0], "cover", rep)
        secrets = []
        for p in paths[1:]:
            s, _ = _read_rgb(p, "secret", rep)
            if s.shape[-2:] != cover.shape[-2:]:
                raise UserError(
                    f"{p} is {s.shape[-1]}×{s.shape[-2]} pixels, the cover {paths[0]} "
                    f"{cover.shape[-1]}×{cover.shape[-2]}: secrets and cover must have the "
                    "same size"
                )
            secrets.append(s)
        label = str(paths[0])
    cover, note = even_crop(cover)
    if note:
        rep.note(note)
    secrets = [even_crop(s)[0] for s in secrets]
    stego = hide_tensor(net, cover.to(device), [s.to(device) for s in secrets]).cpu()
    info = None
    if cover_info is not None:
        from dataclasses import replace

        info = replace(cover_info, alpha=None, bit_depth=8, dtype="uint8", notes=[], stacked=False, pages=1)
        if cover_info.bit_depth != 8:
            rep.note(f"the stego image is 8-bit (the cover had {cover_info.bit_depth} bits)")
        if cover_info.format != "PNG":
            info = replace(info, text={})
    notes: list[str] = []
    write_image(stego_path, stego[0].permute(1, 2, 0).numpy(), 8, force=args.force, info=info, notes=notes)
    for line in notes:
        rep.note(line)
    back, _ = read_image(stego_path)
    back_t = torch.from_numpy(back).permute(2, 0, 1)[None]
    revealed = reveal_tensor(net, back_t.to(device), args.seed)
    p_stego = float(psnr(back_t, cover)[0])
    p_sec = [float(psnr(r.cpu(), s)[0]) for r, s in zip(revealed, secrets, strict=True)]
    sec_text = ", ".join(f"{v:.2f}" for v in p_sec)
    rep.info(
        f"{label} + {plural_secrets(n)} -> {stego_path}  ({getattr(net, 'source', model)}; "
        "stego vs cover "
        f"PSNR {p_stego:.2f} dB; revealed from the file with seed {args.seed}: {sec_text} dB)"
    )
    return 0


def plural_secrets(n: int) -> str:
    """``"1 secret"`` / ``"4 secrets"``."""
    return f"{n} secret{'s' if n != 1 else ''}"
