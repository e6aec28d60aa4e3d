"""``innverse reveal``: get the secret images back from a stego image written by ``innverse hide``.

Examples::

    innverse reveal stego.png -o revealed/                  # revealed/secret.png
    innverse reveal stego.png -o revealed/ --model hinet-4  # revealed/secret-1.png ... secret-4.png

HiNet runs backwards from the stego image with ``z ~ N(0, I)`` (seeded by ``--seed``) in place of the
information the stego image does not carry.  The stego image must be the lossless file ``hide``
wrote: a JPEG is refused (lossy compression destroys the hidden images).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from innverse.commands.files import require_output
from innverse.commands.options import Reporter, add_command, add_runtime_options, check_names
from innverse.errors import UserError

__all__ = ["add_parser", "run", "SUMMARY", "secret_names"]

SUMMARY = "reveal the secret images hidden in a stego image by 'innverse hide'"
PROG = "innverse reveal"

DESCRIPTION = """\
Reveal the secret images hidden in STEGO (a PNG written by 'innverse hide') into the folder OUT_DIR:
secret.png for one secret, secret-1.png ... secret-4.png for four. --model must be the model the
image was hidden with (default hinet; hinet-4 for four secrets). --seed sets the random z that
stands in for what the stego image does not carry (results differ slightly between seeds)."""

EPILOG = """\
examples:
  innverse reveal stego.png -o revealed/
  innverse reveal stego.png -o revealed/ --model hinet-4 --seed 1
  innverse reveal stego.png -o revealed/ --cover      also writes the recovered cover, cover.png
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``innverse reveal``."""
    p = add_command(subparsers, "reveal", SUMMARY, DESCRIPTION, EPILOG)
    p.add_argument("stego", metavar="STEGO", help="the stego image (.png written by 'innverse hide')")
    p.add_argument("-o", "--output", metavar="OUT_DIR", help="folder for secret.png (or secret-1.png ...)")
    p.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        default="hinet",
        help="the model the image was hidden with: hinet, hinet-4 or a folder from "
        "'innverse train hinet' (default: hinet)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of z (default 0)")
    p.add_argument("--cover", action="store_true", help="also write the recovered cover as cover.png")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    add_runtime_options(p)
    return p


def secret_names(n: int) -> list[str]:
    """``["secret.png"]`` for one secret, ``["secret-1.png", ...]`` for several."""
    return ["secret.png"] if n == 1 else [f"secret-{i}.png" for i in range(1, n + 1)]


def run(args: argparse.Namespace) -> int:
    """Run ``innverse reveal``; returns the exit code."""
    rep = Reporter(PROG, args.quiet)
    check_names(args, "--model")
    out = Path(require_output(args, "the folder OUT_DIR"))
    src = Path(args.stego)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder (-o names the folder for secret.png)")
    if out.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"):
        raise UserError(f"{out}: -o is a folder (secret.png is written into it), not an image name")
    import torch

    from innverse.apps.hiding import load_hider, reveal_tensor
    from innverse.data.io import read_image, write_image
    from innverse.devices import resolve_device

    arr, info = read_image(src)
    if info.format == "JPEG":
        raise UserError(
            f"{src}: is a JPEG: lossy compression destroys the hidden images; reveal needs the "
            "PNG that 'innverse hide' wrote"
        )
    if info.channels != 3:
        raise UserError(f"{src}: is a gray image; stego images written by 'innverse hide' are RGB")
    h, w = arr.shape[:2]
    if h % 2 or w % 2:
        raise UserError(f"{src}: is {w}×{h} pixels; stego images written by 'innverse hide' have even sizes")
    if info.bit_depth != 8:
        rep.note(f"{src}: {info.bit_depth}-bit image; 'innverse hide' writes 8 bits, revealing anyway")
    device = resolve_device(args.device, option="--device")
    net = load_hider(args.model, device)
    names = secret_names(net.secrets) + (["cover.png"] if args.cover else [])
    targets = [out / n for n in names]
    for t in targets:
        if t.is_dir():
            raise UserError(f"{t}: is a folder, expected an output file name")
        if t.exists() and not args.force:
            raise UserError(f"{t}: output exists (use --force to overwrite)")
    x = torch.from_numpy(arr).permute(2, 0, 1)[None].to(device)
    secrets = reveal_tensor(net, x, args.seed)
    images = [s[0].cpu() for s in secrets]
    if args.cover:
        with torch.no_grad():
            g = torch.Generator().manual_seed(int(args.seed))
            cover, _ = net.reveal(x.to(next(net.parameters())), generator=g)
        images.append(cover[0].clamp(0, 1).cpu())
    for t, im in zip(targets, images, strict=True):
        write_image(t, im.permute(1, 2, 0).numpy(), 8, force=args.force)
    rep.info(
        f"{src} -> {', '.join(str(t) for t in targets)}  ({getattr(net, 'source', args.model)}, "
        f"seed {args.seed})"
    )
    return 0
