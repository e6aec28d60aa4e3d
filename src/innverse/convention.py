"""The image convention shared by every user-facing function of innverse.

:func:`innverse.denoise`, :func:`innverse.estimate_noise`, :func:`innverse.deblur`,
:func:`innverse.wavelets.denoise` and :func:`innverse.wavelets.estimate_sigma` read their image
argument with :func:`as_batch` and give results back with :meth:`ImageBatch.restore`, so the rules
below hold for all of them:

* **Types and layouts are decided by type, never guessed from the shape.**  numpy arrays are
  channels-last: ``H×W``, ``H×W×C`` or a batch ``N×H×W×C``; torch tensors are channels-first:
  ``H×W``, ``C×H×W`` or ``B×C×H×W``.  ``C`` is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA); an
  alpha channel is passed through untouched.  A numpy ``C×H×W`` array or a torch ``H×W×C`` tensor is
  refused with a hint, not silently transposed.
* **Values.**  uint8 and uint16 images are divided by 255 and 65535.  Float images must be on
  [0, 1]; noise may carry them a little outside, so values down to :data:`FLOAT_MIN` (−3) and up to
  :data:`FLOAT_MAX` (4) are accepted, but a float image with any value beyond that (for example
  one on the 0–255 scale) gets a :class:`~innverse.errors.UserError`, as does NaN or ±inf.  The
  tolerance covers unclipped Gaussian noise up to σ ≈ 140 (0–255 scale) on a 12-megapixel image.
  Other dtypes (bool, signed or 32/64-bit integers, complex) are refused.
* **Noise levels** (``sigma`` arguments and estimates) are on the 0–255 scale of 8-bit images for
  every dtype: ``sigma=25`` is a noise std of 25/255 of the full range.
* **Results** have the input's kind (numpy/torch), dtype, shape and (tensors) device.  Integer
  results are rounded and clipped to the dtype's range; float results are not clipped.

Functions on the *data scale* (σ as a fraction of the range, no value checks) live in lower-level
modules and say so in their names or module docstrings, e.g.
:func:`innverse.wavelets.threshold.denoise_data_scale` and :mod:`innverse.solvers.denoise`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from innverse.errors import UserError

if TYPE_CHECKING:  # torch is imported lazily so that importing this module stays cheap
    import torch

__all__ = [
    "FLOAT_MIN",
    "FLOAT_MAX",
    "float_range_problem",
    "check_float_range",
    "sigma255_values",
    "ImageBatch",
    "as_batch",
]

#: smallest value accepted in a float image (noise may carry [0, 1] data below 0)
FLOAT_MIN = -3.0
#: largest value accepted in a float image (noise may carry [0, 1] data above 1)
FLOAT_MAX = 4.0

_INT_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
_CHANNELS = (1, 2, 3, 4)


def float_range_problem(lo: float, hi: float) -> str | None:
    """The one-line complaint for a float image spanning ``[lo, hi]``, or None when it is acceptable."""
    if FLOAT_MIN <= lo and hi <= FLOAT_MAX:
        return None
    if hi > FLOAT_MAX and hi <= 400 and lo > -400:
        hint = "divide by 255 or pass uint8"
    elif hi > 400 and hi <= 100_000 and lo > -100_000:
        hint = "divide by 65535 or pass uint16"
    else:
        hint = "rescale it to [0, 1]"
    return f"float images must be on [0, 1]; this one spans [{lo:.4g}, {hi:.4g}] — {hint}"


def check_float_range(lo: float, hi: float) -> None:
    """Raise :class:`UserError` when a float image spanning ``[lo, hi]`` breaks the [0, 1] rule."""
    problem = float_range_problem(lo, hi)
    if problem is not None:
        raise UserError(problem)


def sigma255_values(sigma: Any, batch: int, name: str = "sigma") -> np.ndarray | None:
    """Noise levels on the 0–255 scale → a float64 array of ``batch`` values (None stays None).

    ``sigma``: a number, or one value per image (list, numpy array or tensor).  Each value must be a
    finite number in [0, 255]; anything else is a :class:`UserError`.
    """
    if sigma is None:
        return None
    if isinstance(sigma, bool):
        raise UserError(f"{name} must be a number on the 0-255 scale, got {sigma!r}")
    if hasattr(sigma, "detach"):  # a tensor
        sigma = sigma.detach().cpu().numpy()
    try:
        s = np.asarray(sigma, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number on the 0-255 scale, got {sigma!r}") from None
    if s.size == 1:
        s = np.repeat(s, batch)
    if s.size != batch:
        raise UserError(f"{name} must be a number or have one value per image ({batch}), got {s.size}")
    if np.isnan(s).any():
        raise UserError(f"{name} must be a number, got NaN")
    if (s < 0).any():
        raise UserError(f"{name} must be >= 0 (0-255 scale), got {_fmt(s)}")
    if (s > 255).any():
        raise UserError(f"{name} must be <= 255 (0-255 scale), got {_fmt(s)}")
    return s


def _fmt(s: np.ndarray) -> str:
    return f"{s[0]:g}" if np.all(s == s[0]) else "[" + ", ".join(f"{v:g}" for v in s) + "]"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


class ImageBatch:
    """A user's image as a float (B,C,H,W) tensor on [0, 1] plus the recipe to give results back.

    ``x``: the gray or RGB channels (C = 1 or 3), float32 (float64 when the input was float64 and
    ``keep_float64``); ``alpha``: the alpha channel (B,1,H,W) or None; ``single``: True unless the input
    was a batch (numpy N×H×W×C, torch B×C×H×W).  ``check_range=False`` accepts float values beyond
    [:data:`FLOAT_MIN`, :data:`FLOAT_MAX`] (NaN and ±inf are still refused).
    """

    def __init__(self, image: Any, *, keep_float64: bool = False, check_range: bool = True):
        import torch

        if isinstance(image, torch.Tensor):
            self._from_tensor(image, keep_float64)
        elif isinstance(image, np.ndarray):
            self._from_numpy(image, keep_float64)
        else:
            raise UserError(f"expected a numpy array or a torch tensor, got {type(image).__name__}")
        x = self._x4
        del self._x4
        if x.numel() == 0:
            raise UserError(f"empty image of shape {_shape_text(self.shape)}")
        if self.scale is not None:
            x = x / self.scale
        else:
            lo_t, hi_t = torch.aminmax(x)  # one pass; NaN propagates into both
            lo, hi = float(lo_t), float(hi_t)
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise UserError("image contains NaN or infinite values")
            if check_range:
                check_float_range(lo, hi)
        c = x.shape[1]
        self.alpha: torch.Tensor | None = x[:, c - 1 :] if c in (2, 4) else None
        self.x: torch.Tensor = x[:, : 1 if c <= 2 else 3].contiguous()

    # ------------------------------------------------------------------------------------- parsing

    def _from_tensor(self, image: torch.Tensor, keep_float64: bool) -> None:
        import torch

        self.is_torch = True
        self.device = image.device
        self.dtype: Any = image.dtype
        self.shape = tuple(int(n) for n in image.shape)
        t = image.detach()
        if t.dtype == torch.uint8:
            self.scale: float | None = 255.0
        elif t.dtype == getattr(torch, "uint16", None):
            self.scale = 65535.0
            t = t.to(torch.int32)
        elif t.is_floating_point():
            self.scale = None
        else:
            raise UserError(
                f"unsupported tensor dtype {t.dtype} (use uint8, uint16 or a float tensor on [0, 1])"
            )
        nd = t.dim()
        if nd == 2:
            x = t[None, None]
        elif nd in (3, 4):
            c = t.shape[-3]
            if c not in _CHANNELS:
                hint = ""
                if t.shape[-1] in _CHANNELS:
                    perm = "t.permute(2, 0, 1)" if nd == 3 else "t.permute(0, 3, 1, 2)"
                    hint = f"; this looks channels-last — pass {perm}"
                lay = "C×H×W" if nd == 3 else "B×C×H×W"
                raise UserError(
                    f"tensor of shape {_shape_text(self.shape)} has {c} channels; torch tensors are "
                    f"channels-first ({lay}) with C = 1 (gray), 2, 3 (RGB) or 4{hint}"
                )
            x = t[None] if nd == 3 else t
        else:
            raise UserError(f"expected an H×W, C×H×W or B×C×H×W tensor, got shape {_shape_text(self.shape)}")
        self.single = nd < 4
        work = torch.float64 if keep_float64 and t.dtype == torch.float64 else torch.float32
        self._x4 = x.to(work)

    def _from_numpy(self, image: np.ndarray, keep_float64: bool) -> None:
        import torch

        self.is_torch = False
        self.device = torch.device("cpu")
        self.dtype = image.dtype
        self.shape = tuple(int(n) for n in image.shape)
        if image.dtype in _INT_SCALE:
            self.scale = _INT_SCALE[image.dtype]
        elif np.issubdtype(image.dtype, np.floating):
            self.scale = None
        else:
            raise UserError(
                f"unsupported array dtype {image.dtype} (use uint8, uint16 or a float array on [0, 1])"
            )
        nd = image.ndim
        if nd == 2:
            a = image[None, :, :, None]
        elif nd in (3, 4):
            c = image.shape[-1]
            if c not in _CHANNELS:
                hint = ""
                if image.shape[-3] in _CHANNELS:
                    move = "np.moveaxis(a, 0, -1)" if nd == 3 else "np.moveaxis(a, 1, -1)"
                    hint = f"; this looks channels-first — pass {move}"
                lay = "H×W×C" if nd == 3 else "N×H×W×C"
                raise UserError(
                    f"array of shape {_shape_text(self.shape)} has {c} channels; numpy arrays are "
                    f"channels-last ({lay}) with C = 1 (gray), 2, 3 (RGB) or 4{hint}"
                )
            a = image[None] if nd == 3 else image
        else:
            raise UserError(f"expected an H×W, H×W×C or N×H×W×C array, got shape {_shape_text(self.shape)}")
        self.single = nd < 4
        work = np.float64 if keep_float64 and image.dtype == np.float64 else np.float32
        chw = np.moveaxis(a, 3, 1)  # N×C×H×W view
        self._x4 = torch.from_numpy(np.ascontiguousarray(chw, dtype=work))

    # ------------------------------------------------------------------------------------- results

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return int(self.x.shape[-2]), int(self.x.shape[-1])

    @property
    def batch(self) -> int:
        """Number of images."""
        return int(self.x.shape[0])

    def check_min_size(self, min_size: int) -> None:
        """Raise :class:`UserError` when the image is smaller than ``min_size`` on a side."""
        h, w = self.size
        if min(h, w) < min_size:
            raise UserError(f"image is {w}×{h} pixels, the model needs at least {min_size}×{min_size}")

    def restore(self, out: torch.Tensor) -> Any:
        """A (B,C,H,W) result on [0, 1] → the input's kind, dtype, layout and device (alpha re-attached)."""
        import torch

        if self.alpha is not None:
            out = torch.cat([out, self.alpha.to(device=out.device, dtype=out.dtype)], dim=1)
        if self.scale is not None:
            out = torch.round(out.to(torch.float32).clamp(0.0, 1.0) * self.scale)
        if self.is_torch:
            r = out.reshape(self.shape) if len(self.shape) < 4 else out
            if self.dtype == getattr(torch, "uint16", None):
                return r.to(self.device, torch.int32).to(torch.uint16)
            return r.to(self.device, self.dtype)
        a = out.detach().to("cpu").numpy()
        a = np.moveaxis(a, 1, 3)  # N×H×W×C
        if len(self.shape) == 2:
            a = a[0, :, :, 0]
        elif len(self.shape) == 3:
            a = a[0]
        return np.ascontiguousarray(a).astype(self.dtype, copy=False)

    def values(self, per_image: Any) -> float | np.ndarray:
        """Per-image numbers (a (B,) tensor or sequence) → a float for a single image, else a (B,)
        float64 numpy array (for numpy and torch inputs alike)."""
        if hasattr(per_image, "detach"):
            per_image = per_image.detach().to("cpu").double().numpy()
        v = np.asarray(per_image, dtype=np.float64).reshape(-1)
        return float(v[0]) if self.single else v


def as_batch(image: Any, *, keep_float64: bool = False, check_range: bool = True) -> ImageBatch:
    """Read a user's image by the module's rules (raises :class:`UserError` when it breaks them;
    ``check_range=False``: see :class:`ImageBatch`)."""
    return ImageBatch(image, keep_float64=keep_float64, check_range=check_range)
