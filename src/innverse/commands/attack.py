"""``innverse attack``: adversarial images for a Fashion-MNIST classifier (AdvINN and the baselines).

Examples::

    innverse attack boot.png -o boot_adv.png                        # AdvINN-CGT, untargeted, eps 8/255
    innverse attack images/ -o adv/ --method pgd --target sneaker
    innverse attack --sample -o out/ --method advinn-hct --compare

Each output line gives the classifier's prediction (and probability) before and after, the size of the
perturbation and whether the classifier was fooled.  The adversarial images are 8-bit and written
losslessly (PNG, TIFF or BMP; JPEG would destroy the perturbation).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from innverse.commands.batch import run_jobs
from innverse.commands.files import (
    check_jobs,
    mark_sample_outputs,
    plan_jobs,
    require_output,
    sample_or_inputs,
    write_sample_png,
)
from innverse.commands.options import (
    Reporter,
    add_command,
    add_overwrite_options,
    add_runtime_options,
    plural,
)
from innverse.errors import UserError

__all__ = ["add_parser", "run", "SUMMARY", "METHOD_NAMES", "DEFAULT_METHOD", "DEFAULT_EPS"]

SUMMARY = "adversarial images for a Fashion-MNIST classifier (AdvINN, PGD, FGSM, C&W)"
PROG = "innverse attack"
#: :data:`innverse.attacks.methods.METHODS` (copied: building the parser imports no torch)
METHOD_NAMES = ("advinn-cgt", "advinn-hct", "advinn-uap", "pgd", "fgsm", "cw")
DEFAULT_METHOD = "advinn-cgt"
#: the L∞ budget on the 0-255 scale
DEFAULT_EPS = 8
#: :data:`innverse.attacks.inputs.DEFAULT_CLASSIFIER`
DEFAULT_CLASSIFIER = "fmnist-classifier"
_LOSSY = (".jpg", ".jpeg")

DESCRIPTION = """\
Make adversarial versions of 28x28 gray images (Fashion-MNIST style) for an image classifier: images
that look the same but that the classifier reads as another class, within an L-infinity budget of
--eps 8-bit steps per pixel. Without --target the attack moves the prediction away from the class
the classifier predicts for the image; with --target it aims for that class.

Methods: advinn-cgt / advinn-hct / advinn-uap fit a small invertible network per image that mixes a
guide of the target class into the image (CGT: a guide learned on the way; HCT: a confidently
classified training image of the class; UAP: a universal perturbation towards the class), keeping
the image and its low frequencies close; pgd (projected gradient, 10 steps unless --steps), fgsm
(one step) and cw (Carlini-Wagner L2 inside the budget) are the classical baselines."""

EPILOG = """\
examples:
  innverse attack boot.png -o boot_adv.png
  innverse attack images/ -o adv/ --method pgd --target sneaker
  innverse attack --sample -o out/ --method advinn-hct --compare
classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
8 Bag, 9 Ankle boot
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``innverse attack``."""
    p = add_command(subparsers, "attack", SUMMARY, DESCRIPTION, EPILOG)
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="IMAGE",
        help="28x28 gray images, or folders of them ('sample': the bundled examples)",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="output file (one input) or folder (required)")
    p.add_argument(
        "--method",
        default=DEFAULT_METHOD,
        metavar="M",
        help=f"one of {', '.join(METHOD_NAMES)} (default: {DEFAULT_METHOD})",
    )
    p.add_argument(
        "--target",
        metavar="CLASS",
        help="the class to aim for: 0-9 or a name, e.g. sneaker "
        "(default: untargeted, away from the predicted class)",
    )
    p.add_argument(
        "--eps",
        default=str(DEFAULT_EPS),
        metavar="E",
        help=f"L-infinity budget in 8-bit steps, 1-255 (default: {DEFAULT_EPS}, i.e. 8/255)",
    )
    p.add_argument(
        "--classifier",
        default=DEFAULT_CLASSIFIER,
        metavar="NAME_OR_PATH",
        help=f"the classifier to fool (default: {DEFAULT_CLASSIFIER})",
    )
    p.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="iterations: PGD steps (10), AdvINN's step cap (300), C&W steps per search round (30)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of PGD's start and AdvINN's initialisation (default: 0)",
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help="also write <stem>_compare.png: image | adversarial | amplified perturbation",
    )
    p.add_argument(
        "--sample",
        action="store_true",
        help="attack the 4 bundled Fashion-MNIST test images (-o is then a folder)",
    )
    add_overwrite_options(p)
    add_runtime_options(p)
    return p


def parse_eps(text: str) -> int:
    """``--eps`` as a whole number of 8-bit steps in 1-255."""
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise UserError(f"--eps must be a number of 8-bit steps (1-255), got {text!r}") from None
    if not v == v or v != int(v) or not 1 <= v <= 255:
        raise UserError(f"--eps must be a whole number of 8-bit steps in 1-255 (8 means 8/255), got {text}")
    return int(v)


class _Attacker:
    """The classifier, guides and options, loaded once and applied per image."""

    def __init__(
        self, args: argparse.Namespace, method: str, eps: int, target: int | None, rep: Reporter, sample: bool
    ):
        from innverse.attacks.inputs import load_classifier
        from innverse.attacks.methods import needs_guides
        from innverse.devices import resolve_device

        self.device = resolve_device(args.device, option="--device")
        self.method, self.eps, self.target, self.rep = method, eps, target, rep
        self.steps, self.seed = args.steps, args.seed
        self.name = str(args.classifier)
        self.net = load_classifier(self.name, str(self.device))
        self.guides = None
        if needs_guides(method):
            from innverse.attacks.guides import guides_for

            self.guides = guides_for(self.net, self.name)
        self.sample = sample  # --sample: outputs carry the sample marker
        self.fooled = 0
        self.done = 0

    def read(self, path: Path) -> tuple[Any, list[str]]:
        """The image as a (1, 1, 28, 28) tensor on the 8-bit grid, and notes."""
        import numpy as np
        import torch

        from innverse.data.io import read_image

        arr, info = read_image(path)
        notes = []
        if arr.ndim == 3:
            if not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])):
                raise UserError(f"{path}: is a colour image; the classifier takes gray 28x28 images")
            arr = arr[..., 0]
        if arr.shape != (28, 28):
            raise UserError(
                f"{path}: is {arr.shape[1]}x{arr.shape[0]} pixels; the Fashion-MNIST classifiers "
                "take 28x28 gray images"
            )
        if info.alpha is not None:
            notes.append(f"{path}: the alpha channel is not used")
        q = np.rint(np.clip(arr, 0, 1) * 255) / 255
        if info.bit_depth != 8 or not np.array_equal(q.astype(np.float32), arr):
            notes.append(f"{path}: rounded to 8 bits first (the budget is in 8-bit steps)")
        return torch.from_numpy(q.astype(np.float32))[None, None].to(self.device), notes

    def __call__(self, job, force: bool) -> None:
        import torch

        from innverse.attacks.base import Goal, predict, quantize, succeeded
        from innverse.attacks.methods import run_attack
        from innverse.data.fashion_mnist import CLASSES

        x, notes = self.read(job.src)
        for n in notes:
            self.rep.note(n)
        clean = predict(self.net, x)
        p0 = torch.softmax(clean, 1)[0]
        c0 = int(p0.argmax())
        label = self.target if self.target is not None else c0
        goal = Goal(torch.tensor([label], device=x.device), self.target is not None)
        if self.target is not None and c0 == self.target:
            self.rep.note(f"{job.name}: already classified as {CLASSES[c0]}: written unchanged")
        res = run_attack(self.method, self.net, x, goal, self.eps / 255, self.guides, self.steps, self.seed)
        adv = quantize(res.adversarial)  # what the 8-bit file holds
        after = predict(self.net, adv)
        p1 = torch.softmax(after, 1)[0]
        c1 = int(p1.argmax())
        ok = bool(succeeded(after, goal)[0])
        d = (adv - x)[0, 0]
        l2, linf = float(d.norm()), round(float(d.abs().max()) * 255)
        a, b = x[0, 0].cpu().numpy(), adv[0, 0].cpu().numpy()
        if job.writes(job.dst):
            self._write(job.dst, b, job.force(job.dst, force), job)
        cmp = job.extras.get("compare")
        if cmp is not None and job.writes(cmp):
            from innverse.commands.figures import compare_figure

            amp = 0.5 + (b - a) * (0.5 / (self.eps / 255))
            fig = compare_figure(
                [
                    (a, ["image", f"{CLASSES[c0]} {100 * float(p0[c0]):.1f} %"]),
                    (b, [f"adversarial ({self.method})", f"{CLASSES[c1]} {100 * float(p1[c1]):.1f} %"]),
                    (amp, [f"perturbation (eps {self.eps}/255 = white)", f"L2 {l2:.3f}, Linf {linf}/255"]),
                ]
            )
            self._write(cmp, fig, job.force(cmp, force), job)
        aim = f" aiming for {CLASSES[self.target]}" if self.target is not None else ""
        verdict = "fooled" if ok else "NOT fooled"
        steps = f", {int(res.iterations[0])} steps" if self.method.startswith(("advinn", "cw", "pgd")) else ""
        self.rep.info(
            f"{job.name} -> {job.dst}  ({self.method}{aim}, {self.name}, eps {self.eps}/255): "
            f"{CLASSES[c0]} {100 * float(p0[c0]):.1f} % -> {CLASSES[c1]} {100 * float(p1[c1]):.1f} %, "
            f"{verdict} (L2 {l2:.3f}, Linf {linf}/255{steps})"
        )
        self.done += 1
        self.fooled += int(ok)

    def _write(self, path: Path, array, force: bool, job) -> None:
        from innverse.data.io import write_image

        if self.sample:
            write_sample_png(path, array, force, "attack result")
        else:
            write_image(path, array, 8, force=force)


def run(args: argparse.Namespace) -> int:
    """Run ``innverse attack``; returns the exit code."""
    from innverse.attacks.inputs import parse_class, sample_images
    from innverse.attacks.methods import check_method

    rep = Reporter(PROG, args.quiet)
    method = check_method(args.method)
    if method.startswith("pgd-"):
        raise UserError("--method pgd takes its step count from --steps (e.g. --method pgd --steps 50)")
    eps = parse_eps(args.eps)
    target = parse_class(args.target) if args.target is not None else None
    if args.steps is not None and args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    if args.steps is not None and method == "fgsm":
        raise UserError("--steps does not apply to fgsm (one step)")
    sample, inputs = sample_or_inputs(args, "IMAGE")
    require_output(args, "a file for one image, else a folder")
    if sample:
        if Path(args.output).suffix:
            raise UserError(f"{args.output}: with --sample, -o is a folder (the 4 examples keep their names)")
        srcs = [str(p) for p in sample_images()]
        jobs = plan_jobs(srcs, args.output, False, ["compare"] if args.compare else [])
        for j in jobs:
            j.label = f"sample {j.src.name}"
            mark_sample_outputs(j)
    else:
        jobs = plan_jobs(inputs, args.output, False, ["compare"] if args.compare else [], rep.warn)
    for j in jobs:
        if j.dst.suffix.lower() in _LOSSY:
            raise UserError(
                f"{j.dst}: JPEG is lossy and would destroy the perturbation; write .png, .tif or .bmp"
            )
    check_jobs(jobs, args.force, args.skip_existing, False)
    if all(j.skipped for j in jobs):
        return run_jobs(jobs, lambda j: None, rep)
    attacker = _Attacker(args, method, eps, target, rep, sample)
    code = run_jobs(jobs, lambda j: attacker(j, args.force), rep)
    if attacker.done > 1:
        rep.info(f"fooled {attacker.fooled} of {plural(attacker.done, 'image')}")
    return code
