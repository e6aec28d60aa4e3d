"""Running a restoration command over its :class:`~innverse.commands.files.Job` list.

One job: its errors end the command (exit 2).  Several: a progress bar on stderr (not with
``--quiet`` or when stderr is not a terminal), one line per file, a failing file is reported and the
others are still processed (exit 1), and Ctrl-C stops after the file in progress (which is not
written, as every write is atomic) and says how many files were done (exit 130).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from innverse.commands.files import Job
from innverse.commands.options import Reporter, plural
from innverse.errors import UserError

__all__ = ["run_jobs", "INTERRUPTED"]

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
