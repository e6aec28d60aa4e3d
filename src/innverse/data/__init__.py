"""Image I/O, colour transforms, degradations, blur kernels and the listing of image folders."""

from innverse.data.io import read_image, sample_path, write_image

__all__ = ["read_image", "sample_path", "write_image"]
