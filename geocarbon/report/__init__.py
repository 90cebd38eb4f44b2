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


def write_report(out_dir: Path, *, lang: str = "en", overwrite: bool = False) -> Path:
    """Write ``out_dir/report.html`` describing the run in ``out_dir``; return its path.

    Parameters
    ----------
    out_dir
        The ``--out`` folder of a ``geocarbon stock``, ``zonal`` or ``change`` run.
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
        ``report.html`` exists and ``overwrite`` is False; nothing is written.
    """
    from geocarbon.outputs.find import find_outputs
    from geocarbon.outputs.folder import add_to_manifest
    from geocarbon.outputs.staging import StagedOutputs, refuse_existing
    from geocarbon.report.content import gather
    from geocarbon.report.page import render

    lang = check_language(lang)
    out_dir = Path(out_dir)
    final = out_dir / REPORT_NAME
    outputs = find_outputs(out_dir)
    refuse_existing([final], overwrite=overwrite)
    page = render(gather(outputs, lang=lang))
    with StagedOutputs([final], overwrite=overwrite) as staged:
        staged.temp(final).write_text(page, encoding="utf-8")
    add_to_manifest(out_dir, [final])
    return final
