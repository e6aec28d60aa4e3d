"""Finding image files (innverse.data.listing)."""

from __future__ import annotations

import pytest

from innverse.data.listing import is_image_file, list_images
from innverse.errors import UserError


def test_list_images(tmp_path):
    for name in ("b.PNG", "a.jpg", "notes.txt", "sub/c.tif", "sub/.hidden.png", ".cache/d.png"):
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG"]
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path, recursive=True)] == [
        "a.jpg",
        "b.PNG",
        "sub/c.tif",
    ]
    assert is_image_file(tmp_path / "a.jpg") and not is_image_file(tmp_path / "folder.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        list_images(tmp_path / "empty")
    assert list_images(tmp_path / "empty", allow_empty=True) == []
    with pytest.raises(UserError, match="not a folder"):
        list_images(tmp_path / "a.jpg")
