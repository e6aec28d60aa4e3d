"""``innverse denoise``: denoise image files or folders with WINNet.

Examples::

    innverse denoise noisy.png -o clean.png --sigma 25
    innverse denoise photos/ more.jpg -o out/            # blind: sigma estimated per image
    innverse denoise photos/ -o out/ --skip-existing     # resume an interrupted run
    innverse denoise --sample --sigma 25 -o out/ --compare

``--sigma`` is on the 0-255 scale of 8-bit images (also for 16-bit files).  Without it the noise level
is estimated per image (NENet) and printed.  Every output line names the model that was used.
Outputs keep the input's format and bit depth; an existing output is never replaced without
``--force``, an input never without ``--in-place``, and every file is written atomically.
"""

from __future__ import annotations

import argparse
from typing import Any

from innverse.commands.batch import run_restoration
from innverse.commands.files import (
    pages_text,
    restore_file,
    sample_or_inputs,
    write_sample_restoration,
)
from innverse.commands.options import (
    BLIND_DENOISER,
    NOISE_ESTIMATOR,
    Reporter,
    add_command,
    add_inference_options,
    add_output_options,
    add_runtime_options,
    check_names,
    resolve_tiling,
)

__all__ = ["add_parser", "run", "SAMPLE_SIGMA", "SUMMARY", "sigma_text"]

SUMMARY = "denoise images (files or folders) with WINNet"
#: noise added to the bundled sample when no --sigma is given (0-255 scale); the noise seed is 0
SAMPLE_SIGMA = 25.0
PROG = "innverse denoise"

DESCRIPTION = """\
Denoise image files or folders (recursively) with WINNet.

--sigma is the noise std on the 0-255 scale of 8-bit images (also for 16-bit files). With it, the
model trained for that noise level is used where one is shipped (see 'innverse models'), else the
blind model; without it, the noise level is estimated per image (NENet) and the blind model is used.
Each output line names the model. Outputs keep the input's format and bit depth and are written
atomically; an existing output needs --force (or is kept with --skip-existing), and an input is
only replaced with --in-place."""

EPILOG = """\
examples:
  innverse denoise noisy.png -o clean.png --sigma 25
  innverse denoise photos/ more.jpg -o out/             blind: sigma estimated per image
  innverse denoise photos/ -o out/ --skip-existing      resume an interrupted run
  innverse denoise --sample --sigma 25 -o out/ --compare
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``innverse denoise``."""
    p = add_command(subparsers, "denoise", SUMMARY, DESCRIPTION, EPILOG)
    p.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="image files or folders ('sample': the bundled image)"
    )
    add_output_options(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--sigma", metavar="S", help="noise std on the 0-255 scale (default: estimated per image)")
    g.add_argument("--blind", action="store_true", help="estimate the noise level per image (the default)")
    p.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="denoiser: a name from 'innverse models', a checkpoint folder or a .pth "
        "(default: chosen from --sigma)",
    )
    p.add_argument(
        "--estimator", metavar="NAME_OR_PATH", help=f"noise estimator when blind (default: {NOISE_ESTIMATOR})"
    )
    add_inference_options(p)
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="average over the 8 flips/rotations (8x slower, a little better)",
    )
    p.add_argument(
        "--compare", action="store_true", help="also write <stem>_compare.png: noisy | denoised (| clean)"
    )
    p.add_argument(
        "--clean", metavar="REF", help="clean reference image: PSNRs in the output line and the comparison"
    )
    p.add_argument(
        "--sample",
        action="store_true",
        help=f"try it on the bundled 256x256 photo: adds noise (sigma {SAMPLE_SIGMA:g} unless --sigma, "
        "seed 0), denoises it, writes the result, the noisy image and a comparison",
    )
    add_runtime_options(p)
    return p


def sigma_text(sigma: float, estimated: bool) -> str:
    """``"sigma 25"`` (given) or ``"estimated sigma 24.87"``."""
    return f"estimated sigma {sigma:.2f}" if estimated else f"sigma {sigma:g}"


# ------------------------------------------------------------------------------------------------ run


class _Denoiser:
    """Models loaded once (the gray and the colour denoiser may differ), applied per file by
    :func:`innverse.api.denoise`."""

    def __init__(self, args: argparse.Namespace, sigma: float | None, rep: Reporter):
        from innverse.api import load_estimator
        from innverse.devices import resolve_device

        self.device = resolve_device(args.device, option="--device")
        self.sigma = sigma
        self.spec = args.model
        self.rep = rep
        self.tile, self.overlap = resolve_tiling(args)
        self.color = args.color
        self.ensemble = bool(getattr(args, "ensemble", False))
        self.models: dict[int, Any] = {}
        self.names: dict[int, str] = {}
        self.noted: set[str] = set()
        self.model(1)  # load (and validate) the gray model up front: a bad --model fails before any file
        self.estimator = load_estimator(args.estimator, device=self.device) if sigma is None else None
        self.tile, self.overlap = resolve_tiling(args, self.min_size)

    def name(self, channels: int) -> str:
        """Name of the denoiser for gray (1) or colour (3) images (what is loaded, and printed)."""
        from innverse.api import denoiser_name

        if self.spec is not None:
            return str(self.spec)
        return denoiser_name(self.sigma, color=self.color if channels == 3 else None)

    def model(self, channels: int):
        """The denoiser for gray (1) or colour (3) images."""
        from innverse.api import load_denoiser

        if channels not in self.models:
            name = self.name(channels)
            same = [c for c, n in self.names.items() if n == name]
            if same:  # one model for gray and colour images: load it once
                self.models[channels] = self.models[same[0]]
            else:
                self.models[channels] = load_denoiser(name, device=self.device)
            self.names[channels] = name
            self._note_choice(channels, name)
        return self.models[channels]

    def _note_choice(self, channels: int, name: str) -> None:
        if self.spec is not None or self.sigma is None or name != BLIND_DENOISER:
            return
        s = self.sigma
        why = (
            f"--color {self.color} gives each colour channel its own sigma"
            if channels == 3
            else f"no model is trained for sigma {s:g}"
        )
        msg = f"{why}: using {BLIND_DENOISER} at sigma {s:g} (see 'innverse models')"
        if s > 55:
            msg += f"; sigma {s:g} is above the range it was trained on (0-55)"
        if msg not in self.noted:
            self.noted.add(msg)
            self.rep.note(msg)

    @property
    def min_size(self) -> int:
        """Smallest image side the loaded models accept."""
        from innverse.api import min_image_size

        return min_image_size(self.models[1], self.estimator)

    def __call__(self, x) -> tuple[Any, tuple[float, bool, str]]:
        """Denoise a (1,C,H,W) float tensor; returns (result, (sigma on 0-255 scale, estimated?, model
        name))."""
        from innverse.api import denoise
        from innverse.data import color as colorlib

        model = self.model(x.shape[1])
        color = self.color
        if (
            x.shape[1] == 3
            and colorlib.needs_per_channel_sigma(color)
            and getattr(model, "blind", True) is False
        ):
            msg = f"--color {color} needs a blind model; the non-blind model is applied to R, G and B"
            if msg not in self.noted:
                self.noted.add(msg)
                self.rep.note(msg)
            color = "rgb"
        # check_range=False: file pages passed the same rule when read; the --sample input carries
        # unclipped noise, which goes beyond it for sigma above about 140
        out, info = denoise(
            x,
            self.sigma,
            model=model,
            estimator=self.estimator,
            device=self.device,
            tile=self.tile,
            overlap=self.overlap,
            color=color,
            ensemble=self.ensemble,
            return_info=True,
            check_range=False,
        )
        return out.cpu(), (info["sigma"][0], info["estimated"], self.names[x.shape[1]])


def _one(den: _Denoiser, job, args: argparse.Namespace, rep: Reporter) -> None:
    def labels(infos: list[tuple[float, bool, str]]) -> dict[str, str]:
        sigmas = [sigma for sigma, _, _ in infos]
        _, estimated, name = infos[-1]
        how = ("estimated sigma " + pages_text(sigmas)) if estimated else f"sigma {sigmas[0]:g}"
        return {
            "input_label": "noisy input",
            "input_note": sigma_text(sigmas[0], estimated),
            "result_label": f"denoised: {name}",
            "clean_label": "clean reference",
            "description": f"{name}, {how}",
        }

    restore_file(job, den, args.clean, args.force, rep, labels, den.min_size)


def _run_sample(den: _Denoiser, job, args: argparse.Namespace, rep: Reporter, noise_sigma: float) -> None:
    from innverse.data.degrade import add_seeded_noise
    from innverse.data.io import read_image, to_tensor

    clean, _ = read_image(job.src)
    y = add_seeded_noise(to_tensor(clean), noise_sigma, 0)
    out_t, (sigma, estimated, name) = den(y)
    write_sample_restoration(
        job,
        clean,
        y,
        out_t,
        args.force,
        rep,
        command="denoise",
        degraded_tag="noisy",
        degraded_caption=f"noisy (sigma {noise_sigma:g})",
        result_caption=f"denoised: {name}",
        clean_caption="clean original",
        source=f"bundled photo + noise sigma {noise_sigma:g}, seed 0",
        description=f"{name}, {sigma_text(sigma, estimated)}",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``innverse denoise``; returns the exit code (1 when some files of several failed)."""
    from innverse.api import check_sigma

    rep = Reporter(PROG, args.quiet)
    sigma = check_sigma(args.sigma, "--sigma") if args.sigma is not None else None
    sample, inputs = sample_or_inputs(args)
    resolve_tiling(args)  # option errors before any file or model is touched
    check_names(args, "--model", "--estimator")
    noise = SAMPLE_SIGMA if sigma is None else sigma
    return run_restoration(
        args,
        rep,
        sample,
        inputs,
        {"result": "sample.png", "noisy": "sample_noisy.png", "compare": "sample_compare.png"},
        lambda: _Denoiser(args, sigma, rep),
        lambda den, j: _one(den, j, args, rep),
        lambda den, j: _run_sample(den, j, args, rep, noise),
    )
