"""Image hiding: HiNet against LSB substitution, scored after an 8-bit PNG round trip.

Protocol (``innverse benchmark hiding``):

* **Test pairs** -- the 72 non-overlapping 128x128 tiles of CBSD68's images 56-67 (the fixed test
  split, :func:`innverse.train.tasks.hinet.held_out_tiles`); cover ``k`` hides tiles ``k + 7 j`` (other
  images) as its secrets ``j = 1..N`` (:func:`~innverse.train.tasks.hinet.held_out_pairs`).
* **Round trip** -- every stego image is written as an 8-bit PNG and read back; all scores are of the
  file read back (which is checked to equal the in-memory 8-bit image).  HiNet reveals with
  ``z ~ N(0, I)`` from a generator seeded with ``--seed`` for each image (the CLI's ``--seed``).
* **Scores** -- PSNR and SSIM (:mod:`innverse.metrics`) of stego vs cover and of each revealed secret
  vs its secret (means over the images, and over the secrets), and seconds per image for hiding and
  revealing (one image at a time, ``--threads`` threads).
* **Baselines** -- LSB substitution (:mod:`innverse.bench.lsb`): ``lsb-4`` (one secret, 4 bits) for
  N = 1; for N = 4, ``lsb-2x4`` (2 bits of each secret: all 24 bits of the cover replaced, the
  equal-capacity analogue) and ``lsb-1x4`` (1 bit of each secret in the 4 low bits of the cover: the
  cover distortion of ``lsb-4``).
* **Steganalysis** -- for each method, ``--steg-images`` covers are cut from the *training* pool
  (``--steg-crop`` crops, seeded, each beside its own stego image, 8-bit); a fresh
  :class:`~innverse.models.steganalysis.Steganalyser` is trained (``--steg-steps`` steps) to tell stego
  from cover on all of them and tested on the 72 test covers and their 72 PNG stego images: accuracy
  50 % = undetectable, 100 % = always caught.  The table gives the mean over ``--steg-seeds`` K
  steganalysers (seeds ``seed .. seed+K-1``: initialisation, batch order and flips; the same pairs).
* **Learning curve** -- as HiNet's paper reports detection against the number of steganalyser training
  samples: for each count n of ``--steg-curve`` (default 16, 32, 64, 128 and ``--steg-images``, which
  is always included), K fresh steganalysers fit on the *first* n of those pairs (all n, no hold-out;
  the same steps, so smaller n means more passes over fewer pairs), each tested as above; the second
  table gives mean +- sample standard deviation over the K seeds, one column per n.
* **Anchor** -- HiNet's published figures with one secret (DIV2K, unquantised, GPU-trained, 16
  blocks): secret 46.86 dB, stego 38.82 dB; the report gives the distance of ours from them.

Writes ``hiding.md``, ``hiding.json`` and ``hiding.png`` (per method: cover | stego | |stego - cover|
x10 | secret 1 | revealed 1, for the first test pair).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from innverse.bench.lsb import lsb_hide, lsb_reveal
from innverse.bench.options import add_runtime_arguments, apply_runtime, list_items
from innverse.errors import UserError
from innverse.train.tasks.hinet import TILE

__all__ = [
    "ANCHOR",
    "HidingMethod",
    "hinet_method",
    "lsb_method",
    "png_round_trip",
    "pool_pairs",
    "steganalysis_pairs",
    "hide_all",
    "score_method",
    "STEG_CURVE",
    "steg_counts",
    "train_steganalyser",
    "steganalysis_accuracy",
    "steganalysis_curve",
    "ssim_separable",
    "benchmark_hiding",
    "render_hiding",
    "hiding_figure",
    "add_hiding_arguments",
    "run_hiding",
]

#: HiNet's published results (Jing et al., ICCV 2021, Table 1: DIV2K, one secret, unquantised)
ANCHOR = {
    "stego_psnr": 38.82,
    "secret_psnr": 46.86,
    "source": "HiNet (Jing et al., ICCV 2021), Table 1, DIV2K test, 1 secret, no quantisation, GPU",
}

#: default training-cover counts of the steganalysis learning curve (those below ``--steg-images``,
#: which is always added)
STEG_CURVE = (16, 32, 64, 128)

Log = Callable[[str], Any] | None


@dataclass
class HidingMethod:
    """A hiding scheme: ``hide(cover, secrets) -> stego`` (8-bit values) and ``reveal(stego) -> secrets``,
    on (B, 3, H, W) float tensors on [0, 1]."""

    name: str
    secrets: int
    hide: Callable[[Tensor, list[Tensor]], Tensor]
    reveal: Callable[[Tensor], list[Tensor]]
    about: str


def hinet_method(net: Any, name: str, seed: int = 0) -> HidingMethod:
    """Our HiNet: stego rounded to 8 bits; reveal with ``z`` seeded by ``seed`` per call."""
    from innverse.apps.hiding import hide_tensor, reveal_tensor

    cfg = net.config
    params = sum(p.numel() for p in net.parameters())
    about = (
        f"HiNet, {cfg['blocks']} blocks, hidden {cfg['hidden']}, {params:,} "
        f"parameters ({getattr(net, 'source', 'in memory')})"
    )
    return HidingMethod(
        name, net.secrets, lambda c, s: hide_tensor(net, c, s), lambda x: reveal_tensor(net, x, seed), about
    )


def lsb_method(n: int, k: int) -> HidingMethod:
    """LSB substitution of ``k`` bits of each of ``n`` secrets."""
    name = f"lsb-{k}" if n == 1 else f"lsb-{k}x{n}"
    keep = 8 - n * k
    about = (
        f"LSB substitution: {k} top bit(s) of each of {n} secret(s) in the {n * k} low bits of the "
        "cover "
        f"({keep} cover bit(s) kept); missing bits filled with half a step"
    )
    return HidingMethod(name, n, lambda c, s: lsb_hide(c, s, k), lambda x: lsb_reveal(x, n, k), about)


def png_round_trip(stego: Tensor, folder: Path, prefix: str) -> Tensor:
    """Write each image of ``stego`` (B, 3, H, W) as an 8-bit PNG in ``folder`` and read it back."""
    from innverse.data.io import read_image, write_image

    out = []
    for i, s in enumerate(stego):
        p = folder / f"{prefix}-{i:03d}.png"
        a = s.permute(1, 2, 0).cpu().numpy()
        write_image(p, a, 8, force=True)
        back, info = read_image(p)
        if info.format != "PNG" or info.bit_depth != 8:
            raise RuntimeError(f"{p}: expected an 8-bit PNG back")  # pragma: no cover - io invariant
        out.append(torch.from_numpy(back).permute(2, 0, 1))
    r = torch.stack(out).to(stego)
    if not torch.equal((r * 255).round(), (stego.clamp(0, 1) * 255).round()):
        raise RuntimeError("the PNG round trip changed an 8-bit stego image")  # pragma: no cover
    return r


def _mean(t: Tensor) -> float:
    return float(t.double().mean())


def ssim_separable(a: Tensor, b: Tensor, win_size: int = 11, sigma: float = 1.5) -> Tensor:
    """:func:`innverse.metrics.ssim` (same window, constants, 'valid' region, population variances)
    computed with the separable Gaussian as two 1-D passes, in float64: ``(B,)`` for (B, C, H, W) pairs
    on [0, 1]; the same numbers, many times faster on large batches."""
    import torch.nn.functional as F

    x, y = a.double(), b.double()
    bsz, c, h, w = x.shape
    r = torch.arange(win_size, dtype=torch.float64) - (win_size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1).reshape(bsz * 5 * c, 1, h, w)
    m = F.conv2d(F.conv2d(stack, g.reshape(1, 1, 1, -1)), g.reshape(1, 1, -1, 1))
    mu_x, mu_y, exx, eyy, exy = m.reshape(bsz, 5, c, h - win_size + 1, w - win_size + 1).unbind(1)
    vx, vy, cxy = exx - mu_x * mu_x, eyy - mu_y * mu_y, exy - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    smap = ((2 * mu_x * mu_y + c1) * (2 * cxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (vx + vy + c2))
    return smap.mean(dim=(-2, -1)).mean(dim=1)


def _ssim_each(a: Tensor, b: Tensor, chunk: int = 16) -> Tensor:
    """SSIM of each image pair, a chunk at a time (bounded memory)."""
    parts = [ssim_separable(a[i : i + chunk], b[i : i + chunk]) for i in range(0, a.shape[0], chunk)]
    return torch.cat(parts)


def score_method(m: HidingMethod, covers: Tensor, secrets: Tensor, folder: Path, log: Log = None) -> dict:
    """Hide and reveal every test pair one by one (timed), through a PNG file; PSNR/SSIM."""
    from innverse.metrics import psnr

    n = covers.shape[0]
    stegos, t_hide = [], 0.0
    for i in range(n):
        t0 = time.perf_counter()
        stegos.append(m.hide(covers[i : i + 1], list(secrets[i : i + 1].unbind(1))))
        t_hide += time.perf_counter() - t0
    stego = png_round_trip(torch.cat(stegos), folder, m.name)
    revealed, t_rev = [], 0.0
    for i in range(n):
        t0 = time.perf_counter()
        revealed.append(torch.stack(m.reveal(stego[i : i + 1]), dim=1))
        t_rev += time.perf_counter() - t0
    rev = torch.cat(revealed).clamp(0, 1)
    flat_r, flat_s = rev.flatten(0, 1), secrets.flatten(0, 1)
    p_stego, s_stego = psnr(stego, covers), _ssim_each(stego, covers)
    p_sec, s_sec = psnr(flat_r, flat_s).reshape(n, -1), _ssim_each(flat_r, flat_s).reshape(n, -1)
    row = {
        "method": m.name,
        "about": m.about,
        "secrets": m.secrets,
        "images": n,
        "stego_psnr": _mean(p_stego),
        "stego_ssim": _mean(s_stego),
        "secret_psnr": _mean(p_sec),
        "secret_ssim": _mean(s_sec),
        "secret_psnr_each": [_mean(p_sec[:, j]) for j in range(m.secrets)],
        "hide_seconds": t_hide / n,
        "reveal_seconds": t_rev / n,
        "per_image": {"stego_psnr": p_stego.tolist(), "secret_psnr": p_sec.mean(1).tolist()},
    }
    if log:
        log(
            f"{m.name}: stego {row['stego_psnr']:.2f} dB / SSIM {row['stego_ssim']:.4f}, revealed "
            f"{row['secret_psnr']:.2f} dB / SSIM {row['secret_ssim']:.4f} ({n} PNG round trips)"
        )
    return {"row": row, "stego": stego, "revealed": rev}


def pool_pairs(pool: Sequence[np.ndarray], count: int, n: int, crop: int, seed: int) -> tuple[Tensor, Tensor]:
    """``count`` covers and their ``n`` secrets: random ``crop`` crops of the pool (seeded)."""
    g = torch.Generator().manual_seed(seed)
    out = np.empty((count, 1 + n, crop, crop, 3), np.uint8)
    for i in range(count):
        for j in range(1 + n):
            im = pool[int(torch.randint(len(pool), (1,), generator=g))]
            h, w = im.shape[:2]
            y = int(torch.randint(h - crop + 1, (1,), generator=g))
            x = int(torch.randint(w - crop + 1, (1,), generator=g))
            out[i, j] = im[y : y + crop, x : x + crop]
    t = torch.from_numpy(out).permute(0, 1, 4, 2, 3).float() / 255.0
    return t[:, 0].contiguous(), t[:, 1:].contiguous()


def steganalysis_pairs(
    pool: Sequence[np.ndarray], count: int, n: int, crop: int, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """The steganalysers' training pairs of a benchmark run with ``seed``: :func:`pool_pairs` seeded
    ``seed + 1000 + n`` (``n`` secrets per cover)."""
    return pool_pairs(pool, count, n, crop, seed + 1000 + n)


def hide_all(m: HidingMethod, covers: Tensor, secrets: Tensor, batch: int = 16) -> Tensor:
    """``m.hide`` over ``covers`` and their ``secrets`` (B, N, 3, H, W), ``batch`` images at a time."""
    return torch.cat(
        [
            m.hide(covers[i : i + batch], list(secrets[i : i + batch].unbind(1)))
            for i in range(0, covers.shape[0], batch)
        ]
    )


def train_steganalyser(
    covers: Tensor,
    stegos: Tensor,
    steps: int = 400,
    batch: int = 32,
    seed: int = 0,
    lr: float = 1e-3,
    holdout: float = 0.2,
) -> tuple[torch.nn.Module, float]:
    """A :class:`~innverse.models.steganalysis.Steganalyser` trained (Adam, ``steps`` steps, half covers
    and half their stego images per batch, drawn with replacement; ``seed`` sets the initialisation,
    batches and flips) to output > 0 on stego images; returns it (eval mode) and its accuracy on the
    last ``holdout`` fraction of the given pairs, held out from training (``holdout=0``: it fits on all
    pairs and the accuracy returned is nan)."""
    from innverse.models.steganalysis import Steganalyser

    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    torch.manual_seed(seed)
    n = covers.shape[0]
    n_fit = max(1, int((1.0 - holdout) * n)) if holdout > 0 else n
    net = Steganalyser()
    opt = torch.optim.Adam(net.parameters(), lr)
    g = torch.Generator().manual_seed(seed)
    half = max(1, batch // 2)
    net.train()
    for step in range(steps):
        idx = torch.randint(n_fit, (half,), generator=g)
        x = torch.cat([covers[idx], stegos[idx]])
        flip = torch.rand((), generator=g) < 0.5  # the same flip for a cover and its stego image
        if flip:
            x = x.flip(-1)
        y = torch.cat([torch.zeros(half), torch.ones(half)])
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + np.cos(np.pi * step / steps))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()
    held = steganalysis_accuracy(net, covers[n_fit:], stegos[n_fit:]) if n_fit < n else float("nan")
    return net, held


@torch.no_grad()
def steganalysis_accuracy(net: torch.nn.Module, covers: Tensor, stegos: Tensor) -> float:
    """Fraction of covers called cover plus stego images called stego (over both)."""
    a = (net(covers) <= 0).float().sum() + (net(stegos) > 0).float().sum()
    return float(a / (covers.shape[0] + stegos.shape[0]))


def steg_counts(
    curve: str | Sequence[int] | None, steg_images: int, option: str = "--steg-curve"
) -> list[int]:
    """The training-cover counts of the learning curve, ascending: ``curve`` (``'16,32,64'`` or ints,
    each in 1..``steg_images``, none twice) with ``steg_images`` added when missing; ``None`` gives the
    :data:`STEG_CURVE` counts below ``steg_images``, then ``steg_images``."""
    if curve is None:
        return [c for c in STEG_CURVE if c < steg_images] + [steg_images]
    items = list_items(curve, option, "counts like 16,32,64")
    out: list[int] = []
    for t in items:
        try:
            v = int(t)
        except (TypeError, ValueError):
            raise UserError(f"{option}: {t!r} is not a whole number (expected e.g. 16,32,64)") from None
        if isinstance(t, float) and t != v:
            raise UserError(f"{option}: {t!r} is not a whole number (expected e.g. 16,32,64)")
        if not 1 <= v <= steg_images:
            raise UserError(
                f"{option}: {v} training covers is outside 1..{steg_images} (the --steg-images pairs built)"
            )
        if v in out:
            raise UserError(f"{option}: {v} is listed twice")
        out.append(v)
    if not out:
        raise UserError(f"{option}: no count given")
    return sorted(set(out) | {steg_images})


def steganalysis_curve(
    train_covers: Tensor,
    train_stegos: Tensor,
    test_covers: Tensor,
    test_stegos: Tensor,
    counts: Sequence[int],
    seeds: Sequence[int],
    steps: int,
    log: Log = None,
    name: str = "",
) -> list[dict]:
    """Detection accuracy against the number of training pairs: for each ``n`` of ``counts`` and each
    seed, a fresh steganalyser (:func:`train_steganalyser`, ``steps`` steps) fit on all of the first
    ``n`` training pairs and scored by :func:`steganalysis_accuracy` on the test pairs.  Returns
    ``[{"n", "accuracies" (one per seed), "mean", "std" (sample, ddof 1; None for one seed)}]``."""
    if not seeds:
        raise ValueError("at least one seed is needed")
    out = []
    for n in counts:
        if not 1 <= n <= train_covers.shape[0]:
            raise ValueError(f"{n} training pairs asked for, {train_covers.shape[0]} given")
        accs = []
        for s in seeds:
            det, _ = train_steganalyser(train_covers[:n], train_stegos[:n], steps=steps, seed=s, holdout=0.0)
            accs.append(steganalysis_accuracy(det, test_covers, test_stegos))
        a = np.asarray(accs, dtype=np.float64)
        entry = {
            "n": int(n),
            "accuracies": accs,
            "mean": float(a.mean()),
            "std": float(a.std(ddof=1)) if a.size > 1 else None,
        }
        out.append(entry)
        if log:
            log(f"{name}: steganalysis with {n} training covers: {_pm(entry)} ({len(accs)} seeds)")
    return out


def _pm(entry: dict) -> str:
    """``'mean +- std %'`` of a learning-curve entry (the mean alone for one seed)."""
    if entry["std"] is None:
        return f"{100 * entry['mean']:.1f} %"
    return f"{100 * entry['mean']:.1f} ± {100 * entry['std']:.1f} %"


def _panel(a: Tensor) -> np.ndarray:
    return (a.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)


def hiding_figure(rows: Sequence[tuple[str, Tensor, Tensor, Tensor, Tensor]]) -> np.ndarray:
    """One row per method: cover | stego | |stego - cover| x10 | secret 1 | revealed 1 (uint8 image);
    ``rows`` are ``(label, cover, stego, secret, revealed)`` (3, H, W) tensors."""
    from PIL import Image, ImageDraw

    heads = ["cover", "stego (8-bit PNG)", "|stego - cover| x10", "secret 1", "revealed 1"]
    h, w = rows[0][1].shape[-2:]
    pad, top, left = 4, 16, 76
    canvas = Image.new("RGB", (left + 5 * (w + pad), top + len(rows) * (h + pad)), (255, 255, 255))
    d = ImageDraw.Draw(canvas)
    for j, t in enumerate(heads):
        d.text((left + j * (w + pad) + 2, 2), t, fill=(0, 0, 0))
    for i, (label, cover, stego, secret, rev) in enumerate(rows):
        y = top + i * (h + pad)
        d.text((2, y + h // 2 - 6), label, fill=(0, 0, 0))
        panels = [cover, stego, ((stego - cover).abs() * 10).clamp(0, 1), secret, rev]
        for j, p in enumerate(panels):
            canvas.paste(Image.fromarray(_panel(p)), (left + j * (w + pad), y))
    return np.asarray(canvas)


def benchmark_hiding(
    out: str | Path,
    models: Sequence[str] = ("hinet", "hinet-4"),
    data: str | None = None,
    seed: int = 0,
    steg_images: int = 384,
    steg_crop: int = 64,
    steg_steps: int = 250,
    steg_curve: str | Sequence[int] | None = None,
    steg_seeds: int = 3,
    limit: int | None = None,
    device: str = "cpu",
    tile: int = TILE,
    log: Log = print,
) -> dict:
    """Run the benchmark of the module docstring; writes ``hiding.md/.json/.png`` into ``out``.
    ``steg_curve``: the learning curve's training-cover counts (see :func:`steg_counts`);
    ``steg_seeds``: steganalysers per count (seeds ``seed .. seed + steg_seeds - 1``)."""
    from innverse.apps.hiding import load_hider
    from innverse.bench.environment import environment
    from innverse.bench.report import json_text, output_folder, write_text
    from innverse.data.io import write_image
    from innverse.train.tasks.durrnet import load_pool
    from innverse.train.tasks.hinet import held_out_pairs, held_out_tiles

    if steg_images < 10 or steg_steps < 1 or steg_crop < 16 or steg_crop % 2:
        raise UserError("--steg-images must be >= 10, --steg-steps >= 1, --steg-crop even and >= 16")
    if steg_seeds < 1:
        raise UserError(f"--steg-seeds must be at least 1, got {steg_seeds}")
    counts = steg_counts(steg_curve, steg_images)
    steg_seed_list = list(range(seed, seed + steg_seeds))
    folder = output_folder(out)
    nets = [load_hider(m, device) for m in models]
    pool, test = load_pool(data)
    tiles = held_out_tiles(test, tile)
    if len(tiles) < 8:
        raise UserError(f"only {len(tiles)} test tiles of {tile}x{tile}: the benchmark needs at least 8")
    if limit is not None:
        if limit < 8:
            raise UserError("--limit must be at least 8 tiles")
        tiles = tiles[:limit]
    methods: list[tuple[int, HidingMethod]] = []
    for spec, net in zip(models, nets, strict=True):
        path = Path(spec)
        name = (path.parent.name if path.name == "model" else path.name) if path.exists() else str(spec)
        methods.append((net.secrets, hinet_method(net, name, seed)))
    for n in sorted({net.secrets for net in nets}):
        if n == 1:
            methods.append((1, lsb_method(1, 4)))
        elif n == 4:
            methods += [(4, lsb_method(4, 2)), (4, lsb_method(4, 1))]
        elif n <= 8:
            methods.append((n, lsb_method(n, 8 // n)))
    res: dict = {
        "benchmark": "hiding",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": environment(device),
        "anchor": ANCHOR,
        "protocol": {
            "test": f"{len(tiles)} tiles {tile}x{tile} of CBSD68[56:]",
            "steganalysis": {
                "train_images": steg_images,
                "crop": steg_crop,
                "steps": steg_steps,
                "source": "training pool crops",
                "curve": counts,
                "seeds": steg_seed_list,
                "fit": "all n pairs (no hold-out)",
            },
            "seed": seed,
        },
        "rows": [],
    }
    fig_rows = []
    pairs = {n: held_out_pairs(tiles, n) for n in {n for n, _ in methods}}
    with tempfile.TemporaryDirectory(prefix="innverse-hiding-") as tmp:
        for n, m in methods:
            covers, secrets = pairs[n]
            r = score_method(m, covers, secrets, Path(tmp), log)
            row = r["row"]
            tc, ts = steganalysis_pairs(pool, steg_images, n, steg_crop, seed)
            t0 = time.perf_counter()
            tstego = hide_all(m, tc, ts)
            curve = steganalysis_curve(
                tc, tstego, covers, r["stego"], counts, steg_seed_list, steg_steps, log, m.name
            )
            full = curve[-1]  # counts end with steg_images
            row["steg_accuracy"] = full["mean"]
            row["steg_accuracy_std"] = full["std"]
            row["steg_accuracies"] = full["accuracies"]
            row["steg_curve"] = curve
            row["steg_seconds"] = time.perf_counter() - t0
            if m.name.startswith("hinet") or m.about.startswith("HiNet"):
                if n == 1:
                    row["anchor_delta"] = {
                        "stego_db": row["stego_psnr"] - ANCHOR["stego_psnr"],
                        "secret_db": row["secret_psnr"] - ANCHOR["secret_psnr"],
                    }
            res["rows"].append(row)
            fig_rows.append((m.name, covers[0], r["stego"][0], secrets[0, 0], r["revealed"][0, 0]))
    written = [
        write_text(folder / "hiding.json", json_text(res)),
        write_text(folder / "hiding.md", render_hiding(res)),
    ]
    write_image(folder / "hiding.png", hiding_figure(fig_rows), 8, force=True)
    written.append(folder / "hiding.png")
    if log:
        log("wrote " + ", ".join(str(p) for p in written))
    return res


def render_hiding(res: dict) -> str:
    """The Markdown report of :func:`benchmark_hiding`'s results."""
    from innverse.bench.report import machine_line, markdown_table

    head = [
        "method",
        "N",
        "stego PSNR",
        "stego SSIM",
        "revealed PSNR",
        "revealed SSIM",
        "steganalysis acc.",
        "hide s/img",
        "reveal s/img",
    ]
    body = []
    for r in res["rows"]:
        body.append(
            [
                r["method"],
                str(r["secrets"]),
                f"{r['stego_psnr']:.2f}",
                f"{r['stego_ssim']:.4f}",
                f"{r['secret_psnr']:.2f}",
                f"{r['secret_ssim']:.4f}",
                f"{100 * r['steg_accuracy']:.1f} %",
                f"{r['hide_seconds']:.4f}",
                f"{r['reveal_seconds']:.4f}",
            ]
        )
    p = res["protocol"]
    st = p["steganalysis"]
    seeds = st.get("seeds", [p["seed"]])
    curve_rows = [r for r in res["rows"] if r.get("steg_curve")]
    env = res["environment"]
    lines = [
        "# Image hiding: HiNet vs LSB substitution (8-bit PNG round trip)",
        "",
        f"Test: {p['test']} (cover k hides tiles k+7j); every stego image written as an 8-bit PNG and "
        "read back; PSNR in dB. Steganalysis: a small CNN trained per method on "
        f"{st['train_images']} training-pool covers ({st['crop']}x{st['crop']}) and their stego images, "
        f"{st['steps']} steps; accuracy on the test covers + stego images (50 % = undetectable)"
        + (f", mean over {len(seeds)} seeds." if len(seeds) > 1 else "."),
        "",
        markdown_table(head, body),
        "",
    ]
    if curve_rows:
        counts = [e["n"] for e in curve_rows[0]["steg_curve"]]
        if len(seeds) > 1:
            title = f"mean ± std over {len(seeds)} seeds"
            who = (
                f"{len(seeds)} fresh steganalysers (seeds {seeds[0]}..{seeds[-1]}: initialisation, batch "
                "order, flips) are"
            )
            spread = "; std is the sample standard deviation over the seeds."
        else:
            title, who, spread = f"1 seed: {seeds[0]}", "a fresh steganalyser is", "."
        lines += [
            f"## Steganalysis accuracy ({title}) vs training covers",
            "",
            f"For each count n, {who} fit on all of the first n of the {st['train_images']} "
            f"training-pool pairs above (no hold-out), {st['steps']} steps each, and tested on the same "
            f"test covers + stego images{spread}",
            "",
            markdown_table(
                ["method", "N"] + [f"n={c}" for c in counts],
                [[r["method"], str(r["secrets"])] + [_pm(e) for e in r["steg_curve"]] for r in curve_rows],
            ),
            "",
        ]
    for r in res["rows"]:
        lines.append(f"- **{r['method']}**: {r['about']}.")
        if "anchor_delta" in r:
            a = r["anchor_delta"]
            lines.append(
                f"  Distance from HiNet's published figures ({res['anchor']['source']}: stego "
                f"{res['anchor']['stego_psnr']} dB, secret {res['anchor']['secret_psnr']} dB): "
                "stego "
                f"{a['stego_db']:+.2f} dB, secret {a['secret_db']:+.2f} dB."
            )
        if r["secrets"] > 1:
            each = ", ".join(f"{v:.2f}" for v in r["secret_psnr_each"])
            lines.append(f"  Revealed PSNR per secret: {each} dB.")
    lines += ["", machine_line(env, res["created"]), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- command-line wiring
def add_hiding_arguments(p: Any) -> None:
    """The options of ``innverse benchmark hiding`` (for an argparse parser)."""
    p.add_argument("--out", required=True, metavar="DIR", help="folder for hiding.md/.json/.png")
    p.add_argument(
        "--model",
        action="append",
        metavar="NAME_OR_PATH",
        help="hiding model (shipped name or folder); repeat for several (default hinet, hinet-4)",
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        help="data root holding photos/ and CBSD68/ (default: the innverse data root)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of z for revealing, of the steganalysis data and of the first steganalyser",
    )
    p.add_argument("--limit", type=int, metavar="N", help="use only the first N test tiles")
    p.add_argument(
        "--steg-images",
        type=int,
        default=384,
        metavar="N",
        help="training-pool covers the steganalysis CNN learns from (default 384)",
    )
    p.add_argument("--steg-crop", type=int, default=64, metavar="S", help="their crop size (default 64)")
    p.add_argument(
        "--steg-steps", type=int, default=250, metavar="N", help="its training steps (default 250)"
    )
    p.add_argument(
        "--steg-curve",
        metavar="LIST",
        help="learning curve: training-cover counts, each <= --steg-images, e.g. 16,32,64,128,384; "
        "--steg-images is always included (default 16,32,64,128 and --steg-images)",
    )
    p.add_argument(
        "--steg-seeds",
        type=int,
        default=3,
        metavar="K",
        help="steganalysers trained per count (seeds --seed .. --seed+K-1; default 3)",
    )
    add_runtime_arguments(p)


def run_hiding(args: Any) -> int:
    """Run ``innverse benchmark hiding`` from parsed :func:`add_hiding_arguments` options."""
    dev = apply_runtime(args)
    res = benchmark_hiding(
        args.out,
        models=args.model or ("hinet", "hinet-4"),
        data=args.data,
        seed=args.seed,
        steg_images=args.steg_images,
        steg_crop=args.steg_crop,
        steg_steps=args.steg_steps,
        steg_curve=args.steg_curve,
        steg_seeds=args.steg_seeds,
        limit=args.limit,
        device=str(dev),
    )
    print(render_hiding(res))
    return 0
