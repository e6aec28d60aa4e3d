"""Which files a restoration command reads and writes, and whether it may write them.

:func:`plan_jobs` turns the command line's inputs (files or folders, searched recursively) and ``-o``
into one :class:`Job` per input image: the result file plus companion files such as
``<stem>_compare.png``.  :func:`check_jobs` then applies the overwrite rules before any model is
loaded: an output that is an input is refused unless ``--in-place`` (and then only the input's own
result may replace it), an existing output needs ``--force`` or is left alone with
``--skip-existing``.

Outputs of ``--sample`` runs carry a PNG text marker (:data:`SAMPLE_MARK`), so that rerunning a
``--sample`` command replaces its own earlier files, and never a file it did not write.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from innverse.errors import UserError

__all__ = [
    "IMAGE_EXTENSIONS",
    "Job",
    "find_images",
    "is_folder_target",
    "plan_jobs",
    "check_jobs",
    "companion",
    "SAMPLE_MARK",
    "is_sample_output",
    "mark_sample_outputs",
    "write_sample_png",
    "write_sample_outputs",
    "sample_or_inputs",
    "require_output",
    "plan_sample",
    "read_input",
    "read_reference",
    "write_output",
    "write_results",
    "restore_file",
    "write_sample_restoration",
    "pages_text",
]

#: :data:`innverse.data.io.IMAGE_EXTENSIONS`
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
#: PNG text key written into the files of ``--sample`` runs
SAMPLE_MARK = "innverse-sample"


@dataclass
class Job:
    """One input image and the files written for it."""

    src: Path
    dst: Path
    extras: dict[str, Path] = field(default_factory=dict)  # e.g. {"compare": <stem>_compare.png}
    keep: set[Path] = field(default_factory=set)  # existing outputs left alone (--skip-existing)
    replace: set[Path] = field(default_factory=set)  # existing outputs that may be replaced
    label: str | None = None  # how the input is named in messages (default: src)

    @property
    def outputs(self) -> list[Path]:
        """The result first, then the companions."""
        return [self.dst, *self.extras.values()]

    @property
    def skipped(self) -> bool:
        """Every output exists and is kept."""
        return all(o in self.keep for o in self.outputs)

    def writes(self, path: Path) -> bool:
        """Whether ``path`` is to be written (not kept)."""
        return path not in self.keep

    def force(self, path: Path, force: bool) -> bool:
        """The ``force`` flag for writing ``path``."""
        return force or path in self.replace

    @property
    def name(self) -> str:
        return self.label or str(self.src)


def _key(p: Path) -> str:
    try:
        return os.path.normcase(str(p.resolve()))
    except OSError:
        return os.path.normcase(os.path.abspath(p))


def _inside(p: Path, folder: Path) -> bool:
    try:
        p.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


def find_images(folder: Path, exclude: Path | None = None) -> list[Path]:
    """Image files under ``folder`` (recursively, by extension), sorted; hidden entries skipped
    (:func:`innverse.data.listing.list_images`).

    ``exclude``: a folder whose files are left out (the output folder, when it lies inside ``folder``,
    so that a rerun does not take the previous results for inputs).
    """
    from innverse.data.listing import list_images

    skip = exclude if exclude is not None and exclude.is_dir() and _inside(exclude, folder) else None
    if skip is not None and _key(skip) == _key(folder):
        skip = None
    found = list_images(folder, recursive=True, allow_empty=True)
    return found if skip is None else [p for p in found if not _inside(p, skip)]


def is_folder_target(out: Path, raw: str) -> bool:
    """``-o`` names a folder: an existing one, a trailing slash, or a name without a suffix."""
    return out.is_dir() or raw.endswith(("/", "\\")) or out.suffix == ""


def companion(dst: Path, tag: str) -> Path:
    """``<dir>/<stem>_<tag>.png`` next to ``dst``."""
    return dst.with_name(f"{dst.stem}_{tag}.png")


def plan_jobs(
    inputs: Sequence[str],
    output: str | None,
    in_place: bool = False,
    extras: Iterable[str] = (),
    warn=None,
) -> list[Job]:
    """One :class:`Job` per input image.

    One input file and an ``output`` with an image suffix → that file; otherwise ``output`` is a
    folder: a file input goes to ``folder/<name>``, a folder input's images keep their relative paths.
    With ``in_place`` and no ``output``, every image is its own output.  ``extras``: companion tags
    (``"compare"`` → ``<stem>_compare.png`` next to each result).  Inputs that do not exist are kept
    (they fail, with their name, when read).
    """
    inputs = list(inputs)
    tags = list(extras)
    if not inputs:
        raise UserError("no INPUT given")
    if output is not None and not output.strip():
        raise UserError("-o/--output is empty (give a file or folder name)")
    if output is None:
        if not in_place:
            raise UserError("-o/--output is required (or --in-place to replace the inputs)")
        pairs = []
        for raw in inputs:
            src = Path(raw)
            pairs += [(p, p) for p in find_images(src)] if src.is_dir() else [(src, src)]
        return _finish(pairs, inputs, tags)
    out = Path(output)
    single = len(inputs) == 1 and not Path(inputs[0]).is_dir()
    if single and not is_folder_target(out, output):
        if out.suffix.lower() not in IMAGE_EXTENSIONS:
            raise UserError(f"{out}: unknown output format '{out.suffix}' (use .png, .jpg, .tif or .bmp)")
        return _finish([(Path(inputs[0]), out)], inputs, tags)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder (several inputs need an output folder)")
    if not out.exists() and out.suffix.lower() in IMAGE_EXTENSIONS:
        raise UserError(f"{out}: looks like a file name, but several inputs need an output folder")
    pairs = []
    for raw in inputs:
        src = Path(raw)
        if src.is_dir():
            imgs = find_images(src, exclude=out)
            if not imgs and len(inputs) > 1 and warn is not None:
                warn(f"{src}: no images found")
            pairs += [(p, out / p.relative_to(src)) for p in imgs]
        else:
            pairs.append((src, out / src.name))
    return _finish(pairs, inputs, tags)


def _finish(pairs: list[tuple[Path, Path]], inputs: list[str], tags: list[str]) -> list[Job]:
    if not pairs:
        raise UserError(f"no images found in {', '.join(inputs)}")
    jobs = [Job(src, dst, {t: companion(dst, t) for t in tags}) for src, dst in pairs]
    seen: dict[str, Path] = {}
    for job in jobs:
        for o in job.outputs:
            k = _key(o)
            if k in seen and seen[k] != job.src:
                raise UserError(f"{seen[k]} and {job.src} would both be written to {o}")
            if k in seen:
                raise UserError(f"{o}: would be written twice for {job.src}")
            seen[k] = job.src
    return jobs


def check_jobs(jobs: list[Job], force: bool, skip_existing: bool, in_place: bool) -> None:
    """Apply the overwrite rules (raises :class:`UserError` before anything is computed).

    * an output that is an input file is refused, except a result replacing its own input with
      ``in_place`` (then nothing else of that run may write over an input);
    * an output that is a folder is refused;
    * existing outputs need ``force``; with ``skip_existing`` they are recorded in ``Job.keep`` (a job
      whose outputs all exist is skipped).
    """
    if skip_existing and in_place:
        raise UserError("--skip-existing cannot be combined with --in-place (every output exists)")
    sources = {_key(j.src): j.src for j in jobs}
    existing: list[Path] = []
    for job in jobs:
        own = _key(job.src)
        for o in job.outputs:
            k = _key(o)
            if k in sources:
                if in_place and k == own and o == job.dst:
                    job.replace.add(o)
                    continue
                if k == own:
                    raise UserError(
                        f"{o}: is the input file; refusing to overwrite an input even with --force "
                        "(use --in-place to replace inputs by their results)"
                    )
                raise UserError(f"{o}: is one of the inputs; refusing to overwrite it")
            if o.is_dir():
                raise UserError(f"{o}: is a directory, expected an output file name")
            if o.exists() or o.is_symlink():
                if skip_existing:
                    job.keep.add(o)
                elif not force and o not in job.replace:
                    existing.append(o)
    if existing:
        if len(existing) == 1:
            raise UserError(f"{existing[0]}: output exists (use --force to overwrite, or --skip-existing)")
        raise UserError(
            f"{len(existing)} outputs already exist, e.g. {existing[0]} "
            "(use --skip-existing to keep them and resume, or --force to overwrite)"
        )


def is_sample_output(path: Path) -> bool:
    """True when ``path`` is a PNG written by an earlier ``--sample`` run (it carries the marker)."""
    if not path.is_file():
        return False
    try:
        from PIL import Image

        with Image.open(path) as img:
            return img.format == "PNG" and SAMPLE_MARK in getattr(img, "text", {})
    except Exception:  # unreadable: not ours
        return False


def sample_or_inputs(args, metavar: str = "INPUT") -> tuple[bool, list[str]]:
    """``(sample, inputs)`` of a restoration command line: whether it is a ``--sample`` run (also the
    single INPUT ``sample`` when no such file exists) and its INPUTs.

    ``--sample`` takes no other INPUT, a run without it needs one, and ``--clean`` (where the
    command has it) needs exactly one input file; each is refused with one line, which names the
    positional argument ``metavar``.
    """
    inputs = list(args.inputs)
    sample = args.sample or (inputs == ["sample"] and not Path("sample").exists())
    if sample and inputs and inputs != ["sample"]:
        raise UserError(f"--sample takes no {metavar}")
    if not sample and not inputs:
        raise UserError(f"no {metavar} given (files, folders, or --sample)")
    clean = getattr(args, "clean", None)
    if clean is not None and (sample or len(inputs) != 1 or Path(inputs[0]).is_dir()):
        raise UserError("--clean needs exactly one input file")
    return sample, inputs


def require_output(args, what: str = "a file name for one input, or a folder") -> str:
    """``args.output``, refused with one line when ``-o`` is missing or empty (``what``: what it takes)."""
    if args.output is None or not args.output.strip():
        raise UserError(f"-o/--output is required ({what})")
    return str(args.output)


def plan_sample(output: str | None, names: dict[str, str], src: Path) -> Job:
    """The :class:`Job` of a ``--sample`` run.

    ``names``: file name per output tag for a folder ``-o`` (``"result"`` first, e.g.
    ``{"result": "sample.png", "noisy": "sample_noisy.png"}``); with a ``.png`` file name ``-o`` the
    companions are ``<stem>_<tag>.png`` next to it.  Existing outputs of an earlier ``--sample`` run
    may be replaced (see :func:`mark_sample_outputs`).
    """
    if output is None or not output.strip():
        raise UserError("-o/--output is required (a folder, or a .png file name)")
    out = Path(output)
    tags = [t for t in names if t != "result"]
    if is_folder_target(out, output):
        job = Job(src, out / names["result"], {t: out / names[t] for t in tags}, label="sample")
    else:
        if out.suffix.lower() != ".png":
            raise UserError(f"{out}: the sample is written as PNG; use a .png name or a folder")
        job = Job(src, out, {t: companion(out, t) for t in tags}, label="sample")
    mark_sample_outputs(job)
    return job


def read_input(path: Path, min_size: int | None = None):
    """``(pages, info)``: every page of an input image as a ``P×H×W`` or ``P×H×W×3`` float32 array
    (``P`` = 1 except for multipage TIFF) and its :class:`~innverse.data.io.ImageInfo`, which
    :func:`write_output` honours.
    """
    from innverse.data.io import read_image

    return read_image(path, min_size=min_size, stack=True)


def read_reference(ref: str | None, shape: tuple[int, ...]):
    """The ``--clean`` reference image ``ref`` as pages like the input's (:func:`read_input`), which
    has the pages shape ``shape``; ``None`` without a reference."""
    if ref is None:
        return None
    clean, _ = read_input(Path(ref))
    if clean.shape != shape:
        raise UserError(f"{ref}: reference is {_shape(clean.shape)}, the input is {_shape(shape)}")
    return clean


def _shape(shape: tuple[int, ...]) -> str:
    """``P×H×W[×3]`` of :func:`read_input` as the user sees it."""
    return str(shape[1:]) if shape[0] == 1 else f"{shape[1:]} × {shape[0]} pages"


def write_output(path: Path, pages, info, force: bool, note) -> None:
    """Write a result like its input (bit depth, alpha, pages, metadata: ``info``), atomically;
    ``note(line)`` is called for each thing the output format cannot keep."""
    from innverse.data.io import write_image

    notes: list[str] = []
    write_image(path, pages, info=info, force=force, notes=notes)
    for line in notes:
        note(line)


def write_results(
    job: Job,
    pages,
    info,
    out,
    clean,
    force: bool,
    rep,
    *,
    input_label: str,
    input_note: str,
    result_label: str,
    clean_label: str,
    description: str,
) -> None:
    """Write the result of one input file of a restoration command, its comparison figure, and say so.

    ``pages`` (the input) and ``out`` (the result) are ``P×H×W[×3]`` arrays, ``info`` the input's
    :class:`~innverse.data.io.ImageInfo`, ``clean`` the ``--clean`` reference or None (then PSNRs of
    input and result against it are shown).  The result is written like the input
    (:func:`write_output`); a ``compare`` companion gets input | result (| reference) of the first
    page, captioned ``input_label`` (with the PSNR, else ``input_note``), ``result_label`` and
    ``clean_label``.  Then ``rep.info("SRC -> DST  (description[, PSNR a -> b dB])")``.
    """
    import numpy as np

    from innverse.commands.figures import compare_figure, psnr_text
    from innverse.data.degrade import psnr
    from innverse.data.io import write_image

    p_in = p_out = None
    if clean is not None:
        p_in, p_out = psnr(pages, clean), psnr(np.clip(out, 0, 1), clean)
    if job.writes(job.dst):
        write_output(job.dst, out, info, job.force(job.dst, force), rep.note)
    cmp = job.extras.get("compare")
    if cmp is not None and job.writes(cmp):
        first = "" if len(pages) == 1 else f" (page 1 of {len(pages)})"
        panels = [
            (pages[0], [input_label + first, psnr_text(p_in) or input_note]),
            (out[0], [result_label, psnr_text(p_out)]),
        ]
        if clean is not None:
            panels.append((clean[0], [clean_label]))
        write_image(cmp, compare_figure(panels), 8, force=job.force(cmp, force))
    msg = f"{job.src} -> {job.dst}  ({description}"
    if p_out is not None:
        msg += f", PSNR {p_in:.2f} -> {p_out:.2f} dB"
    rep.info(msg + ")")


def restore_file(
    job: Job,
    restore: Callable[[Any], tuple[Any, Any]],
    reference: str | None,
    force: bool,
    rep,
    labels: Callable[[list[Any]], dict[str, str]],
    min_size: int | None = None,
) -> None:
    """Restore one input file of a restoration command page by page and write its results.

    The input is read (:func:`read_input`; ``min_size``: the smallest side the models take), its
    output format checked before the work, and the ``--clean`` ``reference`` read
    (:func:`read_reference`).  ``restore(x)`` maps one page as a ``(1, C, H, W)`` float tensor to
    ``(result tensor, info)``; ``labels(infos)`` (one info per page) gives the keyword labels of
    :func:`write_results`, which writes the result and its comparison and reports them.
    """
    import numpy as np

    from innverse.data.io import check_writable, from_tensor, to_tensor

    pages, info = read_input(job.src, min_size=min_size)
    if job.writes(job.dst):
        check_writable(job.dst, info)  # e.g. a 16-bit colour TIFF without tifffile: refused before the work
    clean = read_reference(reference, pages.shape)
    outs, infos = [], []
    for page in pages:
        out_t, page_info = restore(to_tensor(page))
        outs.append(from_tensor(out_t))
        infos.append(page_info)
    write_results(job, pages, info, np.stack(outs), clean, force, rep, **labels(infos))


def write_sample_restoration(
    job: Job,
    clean,
    degraded,
    result,
    force: bool,
    rep,
    *,
    command: str,
    degraded_tag: str,
    degraded_caption: str,
    result_caption: str,
    clean_caption: str,
    source: str,
    description: str,
) -> None:
    """Write and report the files of a restoration command's ``--sample`` run (:func:`plan_sample`).

    ``clean``: the bundled original (``H×W[×3]`` array); ``degraded`` and ``result``: the input made
    from it and the command's result, ``(1, C, H, W)`` tensors.  Writes the result, the degraded input
    (``job.extras[degraded_tag]``) and a comparison degraded | result | original (captioned, with
    PSNRs against the original), each marked ``"<command> result"``, ``"<command> <degraded_tag>
    input"``, ``"<command> comparison"``; then reports ``sample (<source>) -> DST  (<description>,
    PSNR a -> b dB)`` (:func:`write_sample_outputs`).
    """
    from innverse.commands.figures import compare_figure, psnr_text
    from innverse.data.degrade import psnr
    from innverse.data.io import from_tensor, to_tensor

    x = to_tensor(clean)
    p_in, p_out = psnr(degraded, x), psnr(result.clamp(0, 1), x)
    deg, res = from_tensor(degraded), from_tensor(result)
    figure = [
        (deg, [degraded_caption, psnr_text(p_in)]),
        (res, [result_caption, psnr_text(p_out)]),
        (clean, [clean_caption]),
    ]
    outputs = [
        (job.dst, f"{command} result", res),
        (job.extras[degraded_tag], f"{command} {degraded_tag} input", deg),
        (job.extras["compare"], f"{command} comparison", lambda: compare_figure(figure)),
    ]
    summary = f"sample ({source}) -> {job.dst}  ({description}, PSNR {p_in:.2f} -> {p_out:.2f} dB)"
    write_sample_outputs(job, outputs, force, rep, summary)


def pages_text(values: list[float], fmt: str = "{:.2f}") -> str:
    """``"24.87"`` for one page, ``"24.87, 25.10"`` for a few, ``"24.10 to 25.30 over 12 pages"``."""
    if len(values) == 1:
        return fmt.format(values[0])
    if len(values) <= 4:
        return ", ".join(fmt.format(v) for v in values) + " (per page)"
    return f"{fmt.format(min(values))} to {fmt.format(max(values))} over {len(values)} pages"


def mark_sample_outputs(job: Job) -> None:
    """Let ``job`` replace those of its existing outputs that an earlier ``--sample`` run wrote."""
    for o in job.outputs:
        if is_sample_output(o):
            job.replace.add(o)


def write_sample_png(path: Path, array, force: bool, what: str) -> Path:
    """Write an 8-bit PNG (float ``H×W`` or ``H×W×3`` in [0, 1]) carrying the ``--sample`` marker.

    ``what`` (e.g. ``"denoise result"``) is stored as the marker's value.  Written atomically.
    """
    from PIL import Image, PngImagePlugin

    from innverse.data.io import atomic_write_bytes, quantize

    q = quantize(array, 8)
    img = Image.fromarray(q)
    info = PngImagePlugin.PngInfo()
    info.add_text(SAMPLE_MARK, what)
    info.add_text("Software", "innverse")
    return atomic_write_bytes(path, lambda f: img.save(f, format="PNG", pnginfo=info), force=force)


def write_sample_outputs(
    job: Job, outputs: Iterable[tuple[Path, str, Any]], force: bool, rep, summary: str
) -> None:
    """Write the files of a ``--sample`` run and report them.

    ``outputs``: ``(path, marker, image)`` per file, the image an array or a callable making it (a
    figure, made only when written); each file that ``job`` writes is an 8-bit PNG with the marker
    (:func:`write_sample_png`).  Then ``rep.info(summary)``, and a line naming the files written
    when they are more than the result.
    """
    written = []
    for path, what, image in outputs:
        if not job.writes(path):
            continue
        write_sample_png(path, image() if callable(image) else image, job.force(path, force), what)
        written.append(str(path))
    rep.info(summary)
    if len(written) > 1 or (written and written[0] != str(job.dst)):
        rep.info("wrote " + ", ".join(written))


def warn_stderr(prog: str):
    """A ``warn(msg)`` callable printing ``<prog>: warning: msg`` on stderr."""

    def warn(msg: str) -> None:
        print(f"{prog}: warning: {msg}", file=sys.stderr)

    return warn
