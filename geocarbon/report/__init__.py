"""The run report: one self-contained HTML page describing a finished run, in English or Chinese.

:func:`write_report` is the one entry point (``geocarbon report`` and the runs' ``--report``
flag call it). It finds the run's files through :func:`geocarbon.outputs.find.find_outputs`,
gathers what the page says (:mod:`geocarbon.report.content`), renders it without a template
engine (:mod:`geocarbon.report.page`, every text escaped; labels from
:mod:`geocarbon.report.labels`) and writes ``report.html`` into the run's folder under a
temporary name, renamed on success and recorded in the folder's manifest (as a derived file,
removed by the next run that replaces this one), as ``geocarbon map`` does for its page.

Why a package: what the page says (read from the run's outputs) and how it is written as HTML
change for different reasons, and the label dictionary grows with every language.
"""

from __future__ import annotations

from pathlib import Path

from geocarbon.report.labels import LANGUAGES, check_language

__all__ = ["LANGUAGES", "REPORT_NAME", "write_report"]

REPORT_NAME = "report.html"


def write_report(
    out_dir: Path, *, out_html: Path | None = None, lang: str = "en", overwrite: bool = False
) -> Path:
    """Write ``out_html`` (default ``out_dir/report.html``) describing the run in ``out_dir``;
    return its path.

    Parameters
    ----------
    out_dir
        The ``--out`` folder of a ``geocarbon stock``, ``zonal`` or ``change`` run.
    out_html
        The page to write. Inside ``out_dir`` it is recorded in the run's manifest; elsewhere it
        is the user's own file (its link to the run's map is relative to where it is written).
        Never a file the run wrote or read.
    lang
        ``"en"`` or ``"zh"``: the language of every heading and label.
    overwrite
        Replace an existing report; by default it is refused.

    Raises
    ------
    InputFileError
        ``out_dir`` holds no geocarbon run, or one of its tables cannot be read.
    ConfigError
        A language the report does not speak.
    OutputExistsError
        The page exists and ``overwrite`` is False, or is a folder; nothing is written.
    ConfigError
        ``out_html`` is a file the run wrote or read.
    """
    from geocarbon.outputs.find import find_outputs
    from geocarbon.outputs.folder import add_to_manifest
    from geocarbon.outputs.staging import StagedOutputs, refuse_existing, refuse_run_files
    from geocarbon.report.content import gather
    from geocarbon.report.page import render

    lang = check_language(lang)
    out_dir = Path(out_dir)
    final = out_dir / REPORT_NAME if out_html is None else Path(out_html)
    outputs = find_outputs(out_dir)
    refuse_run_files([final], out_dir)
    refuse_existing([final], overwrite=overwrite)
    page = render(gather(outputs, lang=lang, page_dir=final.parent))
    with StagedOutputs([final], overwrite=overwrite) as staged:
        staged.temp(final).write_text(page, encoding="utf-8")
    if final.parent.resolve() == out_dir.resolve():
        add_to_manifest(out_dir, [final])
    return final
