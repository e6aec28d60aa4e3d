"""Adversarial attacks: AdvINN with its three guides against FGSM, PGD and C&W-L2, at one L∞ budget.

Protocol (``innverse benchmark attack``):

* **Images** -- the Fashion-MNIST test split, in index order: the first ``limit`` images (default 1,000)
  that the attacked classifier (``fmnist-classifier``) classifies correctly; the test images are used by
  no training and no selection of the classifiers or guides.
* **Goal** -- untargeted (the prediction must leave the true class) by default; ``targeted``: the target
  is each image's least likely class under the attacked classifier (the official AdvINN code's choice).
* **Budget** -- ``|adv - x| <= eps`` per pixel (``eps`` in 8-bit steps, default 8/255) for every method;
  every adversarial image is rounded to 8 bits (as saved to PNG) before it is scored.
* **Scores** -- attack success rate (ASR) on the attacked classifier; over the successful images, the
  mean L2 and L∞ distance, SSIM and PSNR (:mod:`innverse.metrics`, on [0, 1]); FID (local features,
  :func:`innverse.bench.frechet.fid_local` on the penultimate features of ``fmnist-classifier-b``, a
  network the attacks do not see) between the clean images and all adversarial images; transfer ASR: of
  the images whose attack succeeded and that ``fmnist-classifier-b`` classifies correctly when clean,
  the fraction it misclassifies (untargeted) or reads as the target (targeted); seconds per image
  (the methods take turns on each batch, in one process, ``threads`` torch threads).
* **Cross-check** -- our PGD against torchattacks' ``PGD`` (benchmark-only import) on the first images,
  both without the random start (the two must then agree to rounding) and with it.

Writes ``attack.md``, ``attack.json`` (per-image values included) and ``attack.png`` (per method: image |
adversarial | perturbation amplified so that ``±eps`` spans black to white, for the first images).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from innverse.attacks.base import Goal, predict, quantize, succeeded
from innverse.bench.options import add_runtime_arguments, apply_runtime
from innverse.errors import UserError

__all__ = [
    "DEFAULT_METHODS",
    "select_images",
    "score_images",
    "torchattacks_check",
    "attack_figure",
    "benchmark_attack",
    "render_attack",
    "add_attack_arguments",
    "run_attack_benchmark",
]

#: the methods of the default run
DEFAULT_METHODS = ("advinn-cgt", "advinn-hct", "advinn-uap", "fgsm", "pgd-10", "pgd-50", "cw", "pgd-margin")
#: what the methods are, for the report
_ABOUT = {
    "advinn-cgt": "AdvINN, guide learned on the way (CGT, from mid-gray)",
    "advinn-hct": "AdvINN, guide = the held-out training image of the class read most confidently (HCT)",
    "advinn-uap": "AdvINN, guide = a targeted universal perturbation towards the class (UAP, ±16/255, "
    "shown as an image)",
    "fgsm": "FGSM, one step of eps",
    "cw": "C&W-L2 in tanh space over the L∞ box, 4 binary-search rounds of 30 Adam steps",
    "pgd-margin": "margin-loss PGD, 200 steps (cosine step eps/4 -> 1/255) from the clean image, then 4 "
    "random restarts on the images still standing, stopping at the first 8-bit success: an estimate of "
    "the success rate the budget allows, not an imperceptible attack",
}

Log = Callable[[str], Any] | None


def select_images(classifier: nn.Module, limit: int, data: str | Path | None = None):
    """``(x (N,1,28,28), labels (N,), test indices (N,))``: the first ``limit`` test images the classifier
    gets right."""
    from innverse.data.fashion_mnist import load_fashion_mnist

    images, labels = load_fashion_mnist("test", root=data)
    x = torch.from_numpy(images.astype(np.float32) / np.float32(255.0))[:, None]
    y = torch.from_numpy(labels.astype(np.int64))
    right = (predict(classifier, x).argmax(1) == y).nonzero()[:, 0][:limit]
    if right.numel() < limit:
        raise UserError(
            f"only {right.numel()} test images are classified correctly; --limit {limit} is too many"
        )
    return x[right], y[right], right


def score_images(x: Tensor, adv: Tensor) -> dict[str, Tensor]:
    """Per image: L2, L∞ (0-255 scale), SSIM and PSNR of ``adv`` against ``x``."""
    from innverse.metrics import psnr, ssim

    d = (adv - x).flatten(1).double()
    return {
        "l2": d.norm(dim=1),
        "linf": d.abs().amax(dim=1) * 255,
        "ssim": ssim(adv, x),
        "psnr": psnr(adv, x),
    }


def torchattacks_check(classifier: nn.Module, x: Tensor, labels: Tensor, eps: float, steps: int = 10) -> dict:
    """Our PGD against torchattacks' PGD (same eps, step eps/4, ``steps``): without the random start the
    iterations are the same and must agree; with it, the success rates are compared."""
    import torchattacks

    from innverse.attacks.pgd import pgd

    goal = Goal(labels)
    out: dict[str, Any] = {
        "images": int(x.shape[0]),
        "steps": steps,
        "torchattacks": torchattacks.__version__,
    }
    for start in (False, True):
        ta = torchattacks.PGD(classifier, eps=eps, alpha=eps / 4, steps=steps, random_start=start)
        theirs = ta(x, labels).detach()
        ours = pgd(classifier, x, goal, eps, steps=steps, random_start=start).adversarial
        s_t = succeeded(predict(classifier, quantize(theirs)), goal)
        s_o = succeeded(predict(classifier, quantize(ours)), goal)
        rec = {"asr_ours": float(s_o.float().mean()), "asr_torchattacks": float(s_t.float().mean())}
        if not start:
            diff = (theirs - ours).abs()
            rec |= {
                "max_abs_diff": float(diff.max()),
                "pixels_equal_8bit": float((quantize(theirs) == quantize(ours)).float().mean()),
                "same_success": float((s_t == s_o).float().mean()),
            }
        out["random_start" if start else "no_random_start"] = rec
    return out


def _panel(t: Tensor, zoom: int) -> np.ndarray:
    a = (t.detach().cpu().float().clamp(0, 1)[0].numpy() * 255 + 0.5).astype(np.uint8)
    return np.kron(a, np.ones((zoom, zoom), dtype=np.uint8))


def attack_figure(rows: Sequence[tuple[str, Tensor, Tensor]], eps: float, zoom: int = 4) -> np.ndarray:
    """Per row ``(label, image, adversarial)`` (1, H, W): image | adversarial | perturbation amplified
    so that ``-eps`` is black and ``+eps`` white; an 8-bit RGB array."""
    from PIL import Image, ImageDraw

    heads = ["image", "adversarial (8-bit)", f"perturbation (+-{round(eps * 255)}/255)"]
    h, w = rows[0][1].shape[-2] * zoom, rows[0][1].shape[-1] * zoom
    pad, top, left = 4, 16, 150
    canvas = Image.new("RGB", (left + 3 * (w + pad), top + len(rows) * (h + pad)), (255, 255, 255))
    d = ImageDraw.Draw(canvas)
    for j, t in enumerate(heads):
        d.text((left + j * (w + pad) + 2, 2), t, fill=(0, 0, 0))
    for i, (label, x, adv) in enumerate(rows):
        y = top + i * (h + pad)
        d.text((2, y + h // 2 - 6), label, fill=(0, 0, 0))
        amp = 0.5 + (adv - x) * (0.5 / eps)
        for j, p in enumerate((x, adv, amp)):
            canvas.paste(Image.fromarray(_panel(p, zoom)), (left + j * (w + pad), y))
    return np.asarray(canvas)


def _mean(v: Tensor) -> float | None:
    return float(v.double().mean()) if v.numel() else None


def benchmark_attack(
    out: str | Path,
    methods: Sequence[str] = DEFAULT_METHODS,
    classifier: str = "fmnist-classifier",
    transfer: str = "fmnist-classifier-b",
    eps: int = 8,
    limit: int = 1000,
    targeted: bool = False,
    batch: int = 100,
    seed: int = 0,
    check: int = 100,
    figure_images: int = 2,
    steps: int | None = None,
    data: str | Path | None = None,
    device: str = "cpu",
    log: Log = None,
) -> dict:
    """Run the protocol of the module docstring; writes the report files into ``out`` and returns the
    results (JSON-able).  ``steps`` overrides the methods' iterations (AdvINN's cap, C&W's steps per
    round; ``pgd-N`` keeps its N)."""
    from innverse.attacks.guides import guides_for
    from innverse.attacks.inputs import load_classifier
    from innverse.attacks.methods import check_method, needs_guides, run_attack
    from innverse.bench.environment import environment
    from innverse.bench.frechet import fid_local
    from innverse.bench.report import json_text, output_folder, write_text
    from innverse.data.io import write_image

    names = [check_method(m) for m in methods]
    if not names:
        raise UserError("give at least one --method")
    if limit < 2 or batch < 1:
        raise UserError(f"--limit must be at least 2 and --batch at least 1; got {limit}, {batch}")
    if not 1 <= eps <= 255:
        raise UserError(f"--eps must be a whole number of 8-bit steps in 1-255, got {eps}")
    folder = output_folder(out)
    dev = torch.device(device)
    net = load_classifier(classifier, device)
    net_b = load_classifier(transfer, device)
    e = eps / 255
    x, y, index = select_images(net, limit, data)
    x, y = x.to(dev), y.to(dev)
    if targeted:
        goal = Goal(predict(net, x).argmin(dim=1), True)
    else:
        goal = Goal(y)
    b_right = predict(net_b, x).argmax(1) == y
    guides = guides_for(net, classifier, data) if any(needs_guides(m) for m in names) else None
    advs = {m: torch.empty_like(x) for m in names}
    iters = {m: torch.zeros(x.shape[0], dtype=torch.int64) for m in names}
    seconds = dict.fromkeys(names, 0.0)
    n = x.shape[0]
    for s in range(0, n, batch):
        xb = x[s : s + batch]
        gb = Goal(goal.labels[s : s + batch], goal.targeted)
        for m in names:
            t0 = time.perf_counter()
            r = run_attack(
                m,
                net,
                xb,
                gb,
                e,
                guides,
                steps=None if m == "fgsm" or m.startswith("pgd") else steps,
                seed=seed,
            )
            seconds[m] += time.perf_counter() - t0
            advs[m][s : s + batch] = quantize(r.adversarial)
            iters[m][s : s + batch] = r.iterations
        if log:
            log(
                f"attack: {min(s + batch, n)}/{n} images; s/image so far: "
                + ", ".join(f"{m} {seconds[m] / min(s + batch, n):.3f}" for m in names)
            )
    res: dict[str, Any] = {
        "benchmark": "attack",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "protocol": {
            "data": f"Fashion-MNIST test split, the first {n} images {classifier} classifies correctly",
            "test_indices": index.tolist(),
            "goal": "targeted (least likely class)" if targeted else "untargeted",
            "eps_255": eps,
            "quantized": "every adversarial image rounded to 8 bits before scoring",
            "fid_features": f"{transfer} penultimate layer ({getattr(net_b, 'feature_dim', '?')} features)",
            "metrics_over": "L2, Linf, SSIM, PSNR: mean over the successful images; FID: all images",
            "transfer": f"{transfer}: of the successful images it classifies correctly when clean",
            "batch": batch,
            "seed": seed,
            "steps": steps,
        },
        "classifier": classifier,
        "transfer_classifier": transfer,
        "environment": environment(dev),
        "guides": guides.info if guides is not None else None,
        "rows": [],
    }
    for m in names:
        adv = advs[m]
        ok = succeeded(predict(net, adv), goal)
        sc = score_images(x, adv)
        okb = succeeded(predict(net_b, adv), goal)
        tr = ok & b_right
        row = {
            "method": m,
            "about": _ABOUT.get(m)
            or (f"PGD, {m[4:]} steps of eps/4 from a random start" if m.startswith("pgd") else m),
            "asr": float(ok.float().mean()),
            "succeeded": int(ok.sum()),
            "images": n,
            **{k: _mean(v[ok]) for k, v in sc.items()},
            "linf_max": float(sc["linf"].max()),
            "fid_local": fid_local(x, adv, net_b),
            "transfer_asr": float(okb[tr].float().mean()) if bool(tr.any()) else None,
            "transfer_images": int(tr.sum()),
            "seconds_per_image": seconds[m] / n,
            "iterations_mean": float(iters[m].double().mean()),
            "per_image": {
                "success": ok.int().tolist(),
                **{k: [round(float(t), 5) for t in v] for k, v in sc.items()},
                "transfer_success": okb.int().tolist(),
                "iterations": iters[m].tolist(),
            },
        }
        if row["linf_max"] > eps + 1e-3:  # pragma: no cover - the projection guarantees it
            raise RuntimeError(f"{m} exceeded the budget: {row['linf_max']} > {eps}")
        res["rows"].append(row)
    if check and any(m.startswith("pgd") for m in names):
        k = min(check, n)
        try:
            res["torchattacks_check"] = torchattacks_check(net, x[:k], y[:k], e)
        except ImportError:
            res["torchattacks_check"] = {"skipped": "torchattacks is not installed"}
    fig_rows = []
    for i in range(min(figure_images, n)):
        for m in names:
            fig_rows.append((f"{m} (test {int(index[i])})", x[i], advs[m][i]))
    written = [
        write_text(folder / "attack.json", json_text(res)),
        write_text(folder / "attack.md", render_attack(res)),
    ]
    write_image(folder / "attack.png", attack_figure(fig_rows, e), 8, force=True)
    written.append(folder / "attack.png")
    if log:
        log("wrote " + ", ".join(str(p) for p in written))
    return res


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def render_attack(res: dict) -> str:
    """The Markdown report of :func:`benchmark_attack`'s results."""
    from innverse.bench.report import machine_line, markdown_table

    head = [
        "method",
        "ASR",
        "L2",
        "Linf (/255)",
        "SSIM",
        "PSNR (dB)",
        "FID (local)",
        "transfer ASR",
        "s/image",
        "iterations",
    ]
    body = []
    for r in res["rows"]:
        body.append(
            [
                r["method"],
                f"{100 * r['asr']:.1f} %",
                _f(r["l2"], ".3f"),
                _f(r["linf"], ".2f"),
                _f(r["ssim"], ".4f"),
                _f(r["psnr"], ".2f"),
                f"{r['fid_local']:.3f}",
                "-" if r["transfer_asr"] is None else f"{100 * r['transfer_asr']:.1f} %",
                f"{r['seconds_per_image']:.3f}",
                f"{r['iterations_mean']:.1f}",
            ]
        )
    p = res["protocol"]
    env = res["environment"]
    lines = [
        f"# Adversarial attacks on {res['classifier']} (eps = {p['eps_255']}/255, {p['goal']})",
        "",
        f"Images: {p['data']}. {p['quantized']}. {p['metrics_over']}. FID on {p['fid_features']}. "
        f"Transfer: {p['transfer']}.",
        "",
        markdown_table(head, body),
        "",
    ]
    for r in res["rows"]:
        lines.append(f"- **{r['method']}**: {r['about']} ({r['succeeded']} of {r['images']} succeeded).")
    if len(res["rows"]) > 1:
        hits = [r["per_image"]["success"] for r in res["rows"]]
        union = sum(any(col) for col in zip(*hits, strict=True))
        n = res["rows"][0]["images"]
        lines += [
            "",
            f"Budget ceiling: {union} of {n} images ({100 * union / n:.1f} %) fall to at least one method "
            f"above; no attack here finds an adversarial image inside the budget for the other {n - union}.",
        ]
    chk = res.get("torchattacks_check")
    if chk and "skipped" not in chk:
        a, b = chk["no_random_start"], chk["random_start"]
        lines += [
            "",
            f"PGD cross-check against torchattacks {chk['torchattacks']} ({chk['images']} images, "
            f"{chk['steps']} steps): without random start max |ours - theirs| = {a['max_abs_diff']:.2e}, "
            f"{100 * a['pixels_equal_8bit']:.2f} % of 8-bit pixels equal, ASR {100 * a['asr_ours']:.1f} % vs "
            f"{100 * a['asr_torchattacks']:.1f} %; with random start (different random numbers) ASR "
            f"{100 * b['asr_ours']:.1f} % vs {100 * b['asr_torchattacks']:.1f} %.",
        ]
    lines += ["", machine_line(env, res["created"]), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- command-line wiring
def add_attack_arguments(p: Any) -> None:
    """The options of ``innverse benchmark attack`` (for an argparse parser)."""
    p.add_argument("--out", required=True, metavar="DIR", help="folder for attack.md/.json/.png")
    p.add_argument(
        "--method",
        action="append",
        metavar="M",
        help=f"attack (repeat for several; default: {', '.join(DEFAULT_METHODS)}); pgd-N = N steps",
    )
    p.add_argument(
        "--classifier",
        default="fmnist-classifier",
        metavar="NAME_OR_PATH",
        help="the attacked classifier (default fmnist-classifier)",
    )
    p.add_argument(
        "--transfer",
        default="fmnist-classifier-b",
        metavar="NAME_OR_PATH",
        help="the transfer classifier, also the FID feature network (default fmnist-classifier-b)",
    )
    p.add_argument(
        "--eps", type=int, default=8, metavar="E", help="L-infinity budget in 8-bit steps (default 8)"
    )
    p.add_argument(
        "--limit",
        type=int,
        default=1000,
        metavar="N",
        help="attack the first N correctly classified test images (default 1000)",
    )
    p.add_argument("--targeted", action="store_true", help="targeted at each image's least likely class")
    p.add_argument("--batch", type=int, default=100, metavar="B", help="images per batch (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of PGD's start and AdvINN's initialisation")
    p.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="iterations of AdvINN (cap, default 300) and C&W (per round, default 30)",
    )
    p.add_argument(
        "--check",
        type=int,
        default=100,
        metavar="N",
        help="images of the torchattacks PGD cross-check, 0 to skip (default 100)",
    )
    p.add_argument(
        "--data", metavar="DIR", help="Fashion-MNIST folder (default: the data root's fashion-mnist)"
    )
    add_runtime_arguments(p)


def run_attack_benchmark(args: Any) -> int:
    """Run ``innverse benchmark attack`` from parsed :func:`add_attack_arguments` options."""
    from innverse.bench.report import log_stderr

    dev = apply_runtime(args)
    res = benchmark_attack(
        args.out,
        methods=args.method or DEFAULT_METHODS,
        classifier=args.classifier,
        transfer=args.transfer,
        eps=args.eps,
        limit=args.limit,
        targeted=args.targeted,
        batch=args.batch,
        seed=args.seed,
        check=args.check,
        steps=args.steps,
        data=args.data,
        device=str(dev),
        log=log_stderr,
    )
    print(render_attack(res))
    return 0
