"""Finding the image files of a folder: one rule for test sets, training sets and the CLI."""

from __future__ import annotations

from pathlib import Path

from innverse.data.io import IMAGE_EXTENSIONS
from innverse.errors import UserError

__all__ = ["is_image_file", "list_images"]


def is_image_file(path: Path) -> bool:
    """A regular file whose name ends in one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS


def list_images(folder: str | Path, recursive: bool = False, allow_empty: bool = False) -> list[Path]:
    """The image files of ``folder``, sorted by path.

    ``recursive=True`` also searches sub-folders, skipping hidden files and folders (names that
    start with ``.``).  Raises :class:`UserError` naming the folder when it is not a folder, and
    when it holds no image unless ``allow_empty``.
    """
    d = Path(folder)
    if not d.is_dir():
        raise UserError(f"{d}: not a folder")
    if recursive:
        found = [
            p
            for p in sorted(d.rglob("*"))
            if not any(part.startswith(".") for part in p.relative_to(d).parts) and is_image_file(p)
        ]
    else:
        found = sorted(p for p in d.iterdir() if is_image_file(p))
    if not found and not allow_empty:
        raise UserError(f"{d}: no images ({', '.join(IMAGE_EXTENSIONS)}) found")
    return found
