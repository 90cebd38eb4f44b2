"""The files a map page writes beside itself, and how they replace a previous map's.

:func:`geocarbon.web.map.write_map` stages the page and its ``<page>_files`` folder under hidden
names; this module decides what it may replace (an existing page only with ``overwrite``, a files
folder only if it holds nothing but what a map writes) and swaps the staged folder in. Kept apart
from :mod:`geocarbon.web.map`, which assembles the page, because it is about the output folder,
not about what the page shows.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from geocarbon.errors import OutputExistsError

#: What a map writes into its ``<page>_files`` folder (anything else there is not replaced).
FILES_WRITTEN = re.compile(r"^(overlay_.+\.png|classes_.+\.png|tiles_.+|lib)$")


def refuse_outputs(out: Path, files_dir: Path, *, overwrite: bool) -> None:
    """Refuse an ``out`` that is a folder, and existing outputs unless ``overwrite``."""
    from geocarbon.outputs.staging import refuse_existing

    if out.is_dir():
        raise OutputExistsError(
            f"--out {str(out)!r} is a folder; name the HTML page to write, for example "
            f"{str(out / 'map.html')!r}."
        )
    refuse_existing([out], overwrite=overwrite)
    if not files_dir.exists():
        return
    foreign = (
        [files_dir.name]
        if not files_dir.is_dir()
        else sorted(p.name for p in files_dir.iterdir() if not FILES_WRITTEN.match(p.name))
    )
    if foreign or not overwrite:
        reason = f"holds {', '.join(foreign)}, which a map did not write" if foreign else "exists"
        raise OutputExistsError(
            f"The map's files folder {str(files_dir)!r} {reason}. "
            + ("Move it away" if foreign else "Use --overwrite (overwrite=True) to replace it")
            + ", or choose another --out name."
        )


def replace_folder(staged: Path, final: Path) -> None:
    """Rename ``staged`` to ``final``, removing a previous ``final`` (already checked as ours)."""
    old = staged.with_name(f"{staged.name}.old")
    if final.exists():
        final.rename(old)
    staged.rename(final)
    shutil.rmtree(old, ignore_errors=True)
