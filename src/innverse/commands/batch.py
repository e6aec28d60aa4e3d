"""Running a restoration command over its :class:`~innverse.commands.files.Job` list.

One job: its errors end the command (exit 2).  Several: a progress bar on stderr (not with
``--quiet`` or when stderr is not a terminal), one line per file, a failing file is reported and the
others are still processed (exit 1), and Ctrl-C stops after the file in progress (which is not
written, as every write is atomic) and says how many files were done (exit 130).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from innverse.commands.files import Job, check_jobs, plan_jobs, plan_sample
from innverse.commands.options import Reporter, plural
from innverse.errors import UserError

__all__ = ["run_jobs", "run_restoration", "INTERRUPTED"]

#: exit code after Ctrl-C
INTERRUPTED = 130


def _interrupted(rep: Reporter, done: int, total: int, failed: int = 0) -> int:
    bad = f" ({failed} failed)" if failed else ""
    hint = "; rerun the same command with --skip-existing to do the rest" if total > done else ""
    rep._err(f"{rep.prog}: interrupted: {done} of {plural(total, 'file')} done{bad}{hint}")
    return INTERRUPTED


def run_jobs(jobs: list[Job], process: Callable[[Job], None], rep: Reporter, verb: str = "written") -> int:
    """Run ``process(job)`` on every job not skipped; returns the exit code."""
    todo = [j for j in jobs if not j.skipped]
    skipped = len(jobs) - len(todo)
    if skipped:
        rep.info(f"skipping {plural(skipped, 'file')} whose outputs exist (--skip-existing)")
    if not todo:
        return 0
    if len(jobs) == 1:
        try:
            process(todo[0])
        except KeyboardInterrupt:
            rep._err(f"{rep.prog}: interrupted; nothing was written for {todo[0].name}")
            return INTERRUPTED
        return 0
    from tqdm import tqdm

    done = failed = 0
    bar = tqdm(
        todo, desc=rep.prog.split()[-1], unit="file", file=sys.stderr, disable=True if rep.quiet else None
    )
    rep._write = tqdm.write
    try:
        for job in bar:
            try:
                process(job)
                done += 1
            except UserError as e:
                failed += 1
                rep.error(str(e))
            except MemoryError:
                failed += 1
                rep.error(f"{job.name}: out of memory (try a smaller --tile)")
    except KeyboardInterrupt:
        bar.close()
        rep._write = None
        return _interrupted(rep, skipped + done, len(jobs), failed)
    bar.close()
    rep._write = None
    if failed:
        rep._err(f"{rep.prog}: {failed} of {plural(len(todo), 'file')} failed")
        return 1
    extra = f" ({skipped} skipped)" if skipped else ""
    rep.info(f"done: {plural(done, 'file')} {verb}{extra}")
    return 0


def run_restoration(
    args: argparse.Namespace,
    rep: Reporter,
    sample: bool,
    inputs: list[str],
    sample_names: dict[str, str],
    load: Callable[[], Any],
    process: Callable[[Any, Job], None],
    process_sample: Callable[[Any, Job], None],
) -> int:
    """Plan, check and run the jobs of a restoration command (``denoise``, ``deblur``).

    A ``--sample`` run (``sample``) is one job on the bundled photo, its files named by
    ``sample_names`` (:func:`~innverse.commands.files.plan_sample`; ``--in-place`` is refused);
    otherwise one job per input image, with ``<stem>_compare.png`` under ``--compare``.  The
    overwrite rules are applied before ``load()`` builds the state (the models) once, which is
    only done when some job has anything to write; then ``process(state, job)`` (or
    ``process_sample``) runs on every job (:func:`run_jobs`).
    """
    if sample:
        from innverse.data.io import sample_path

        if args.in_place:
            raise UserError("--in-place cannot be used with --sample")
        jobs = [plan_sample(args.output, sample_names, sample_path())]
        check_jobs(jobs, args.force, args.skip_existing, False)
    else:
        jobs = plan_jobs(inputs, args.output, args.in_place, ["compare"] if args.compare else [], rep.warn)
        check_jobs(jobs, args.force, args.skip_existing, args.in_place)
    if all(j.skipped for j in jobs):
        return run_jobs(jobs, lambda j: None, rep)
    state = load()
    step = process_sample if sample else process
    return run_jobs(jobs, lambda j: step(state, j), rep)
