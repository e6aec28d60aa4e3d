"""What the attack tools take from the user: a classifier by name or path, a class by number or name,
and the bundled example images."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from innverse.errors import UserError

__all__ = ["DEFAULT_CLASSIFIER", "TRANSFER_CLASSIFIER", "load_classifier", "parse_class", "sample_images"]

#: the attacked classifier when none is named, and the second one (another architecture) for transfer
DEFAULT_CLASSIFIER = "fmnist-classifier"
TRANSFER_CLASSIFIER = "fmnist-classifier-b"


def load_classifier(name_or_path: str, device: str = "cpu") -> nn.Module:
    """A shipped classifier name or a checkpoint folder, in eval mode; refuses models that are not
    classifiers (one clear line)."""
    from innverse.models import load_model
    from innverse.models.registry import kind_of

    if not str(name_or_path).strip():
        raise UserError("--classifier is empty (give a name from 'innverse models' or a path)")
    m = load_model(name_or_path, device)
    kind = kind_of(m)
    if kind is None or kind.role != "classifier":
        what = f"a {kind.name} checkpoint ({kind.role})" if kind is not None else "not a classifier"
        raise UserError(f"{name_or_path}: is {what}, not an image classifier")
    return m


def _norm(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def parse_class(text: str | int, classes: tuple[str, ...] | None = None) -> int:
    """A class index from ``0``-``9`` or a class name (case, spaces, hyphens and slashes ignored, a
    unique prefix allowed: ``sneaker``, ``ankle-boot``, ``t-shirt``)."""
    if classes is None:
        from innverse.data.fashion_mnist import CLASSES

        classes = CLASSES
    s = str(text).strip()
    if s.isdigit():
        k = int(s)
        if k < len(classes):
            return k
        raise UserError(f"class {k} out of range 0-{len(classes) - 1}")
    key = _norm(s)
    names = [_norm(c) for c in classes]
    if key in names:
        return names.index(key)
    hits = [i for i, n in enumerate(names) if key and n.startswith(key)]
    if len(hits) == 1:
        return hits[0]
    listing = ", ".join(f"{i} {c}" for i, c in enumerate(classes))
    raise UserError(f"unknown class {text!r} (give a number or a name: {listing})")


def sample_images() -> list[Path]:
    """The bundled Fashion-MNIST test images (``data/samples/fmnist/``; see the README there)."""
    folder = Path(__file__).resolve().parent.parent / "data" / "samples" / "fmnist"
    found = sorted(folder.glob("*.png"))
    if not found:  # pragma: no cover - packaging error
        raise UserError(f"bundled attack examples missing: {folder}")
    return found
