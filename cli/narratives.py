"""`pmon classify`, `pmon eval narratives`, `pmon train`, `pmon review`: the narrative classifier's commands."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pmon.cli.options import DEFAULT_DB, DEFAULT_READ_WAIT, DbOption, ReadWaitOption, existing_warehouse, fail, reading
from pmon.cli.output import OutputFormat, console, emit, err_console
from pmon.schemas.jsonl import JsonlError, read_lines


class GoldSplit(StrEnum):
    """Which half of a gold set to score."""

    all = "all"
    dev = "dev"
    test = "test"

CodebookOption = Annotated[Path | None, typer.Option("--codebook", help="codebook folder (default: codebooks/iskp)")]
HeadsOption = Annotated[
    Path | None, typer.Option("--heads", help="heads trained by `pmon train` (default: codebook's)")
]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the narrative commands to `pmon`."""
    review_app = typer.Typer(help="Low-confidence detections for an analyst to confirm or correct.",
                             invoke_without_command=True)
    app.add_typer(review_app, name="review")

    @app.command()
    def classify(
        file: Annotated[
            Path | None, typer.Argument(help="JSONL with {id, text} per line; '-' or nothing: stdin")
        ] = None,
        codebook: CodebookOption = None,
        heads: HeadsOption = None,
        batch_size: Annotated[int, typer.Option(help="texts per batch")] = 64,
    ) -> None:
        """Narratives, stance and evidence for each text: JSONL in, JSONL out."""
        from pmon.classifiers.langid import detect_document
        from pmon.classifiers.narratives import load_classifier

        classifier = load_classifier(codebook, heads)
        pending: list[dict[str, Any]] = []

        def flush() -> None:
            langs = [detect_document(r["text"]) for r in pending]
            results = classifier.classify([r["text"] for r in pending])
            for record, lang, result in zip(pending, langs, results, strict=True):
                out = {"id": record.get("id"), "lang": lang.lang, "stance": result.stance.value,
                       "narratives": [n.model_dump() for n in result.narratives]}
                sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            sys.stdout.flush()
            pending.clear()

        skipped = 0
        try:
            for number, record, problem in read_lines(file, require_text=True):
                if record is None:
                    err_console.print(f"line {number}: {problem}; skipped", highlight=False, markup=False)
                    skipped += 1
                    continue
                pending.append(record)
                if len(pending) >= batch_size:
                    flush()
        except JsonlError as exc:
            raise fail(str(exc)) from exc
        if pending:
            flush()
        if skipped:  # every good line was classified; the status says that some were not
            raise typer.Exit(1)

    @eval_app.command("narratives")
    def eval_narratives(
        gold: Annotated[list[Path], typer.Argument(
            help="gold JSONL file(s) or folders (fields text, labels, stance); lines without labels are real text "
                 "with no narrative (fields text, lang; optional kind, genre, topic, variety): false-alarm rates")],
        codebook: CodebookOption = None,
        heads: HeadsOption = None,
        fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
        split: Annotated[GoldSplit, typer.Option(
            help="dev: even-numbered gold ids (used to choose the model's settings); test: odd ids (kept apart); "
                 "real text: its dev and test parts by a hash of the id (the train part is the shipped background)")
        ] = GoldSplit.all,
    ) -> None:
        """Per-label and per-language precision/recall/F1, macro-F1, stance accuracy, false alarms."""
        from pmon.classifiers.narratives import load_classifier
        from pmon.classifiers.narratives.evaluate import evaluate, read_gold, split_gold

        try:
            rows = split_gold(read_gold(gold), split.value)
        except (OSError, ValueError) as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
        classifier = load_classifier(codebook, heads)
        with console.status(f"classifying {len(rows)} gold items"):
            report = evaluate(classifier, rows)
        if fmt is OutputFormat.json:
            sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
            return
        if report["items"]:
            per_label = [{"narrative": k, **v} for k, v in report["per_label"].items()]
            emit(per_label, OutputFormat.table, title="per narrative")
            per_language = [{"lang": k, **v} for k, v in report["per_language"].items()]
            emit(per_language, OutputFormat.table, title="per language")
            console.print(
                f"{split.value}: items {report['items']}  macro-F1 [bold]{report['macro_f1']:.3f}[/bold]  "
                f"stance accuracy "
                f"[bold]{report['stance_accuracy']}[/bold] (end to end {report['stance_accuracy_end_to_end']})  "
                f"false alarms {report['false_alarm_rate']}"
            )
        real = report["real_text"]
        if real:
            columns = ["items", "any", "any_rate", "any_upper95", "promote", "promote_rate"]
            for title, key, name in (("real text, per language and kind", "per_language_kind", "lang kind"),
                                     ("real text, per genre", "per_genre", "genre"),
                                     ("real text, per topic and kind", "per_topic_kind", "topic kind")):
                emit([{name: k, **v} for k, v in real[key].items()], OutputFormat.table, title=title,
                     columns=[name, *columns])
            overall = real["overall"]
            console.print(
                f"{split.value}: real text {overall['items']} items, any narrative on {overall['any']} "
                f"({overall['any_rate']:.2%}), promote on {overall['promote']}; by narrative {real['per_narrative']}"
            )
        console.print(f"model {report['model_version']}  codebook {report['codebook_version']}")

    @app.command()
    def train(
        db: DbOption = DEFAULT_DB,
        codebook: CodebookOption = None,
        out: Annotated[
            Path | None, typer.Option(help="where to write the heads (default: beside the warehouse)")
        ] = None,
    ) -> None:
        """Retrain the narrative heads from the codebook plus analyst labels stored in the warehouse (--db)."""
        from pmon.classifiers.encoders import load_encoder
        from pmon.classifiers.narratives import train_classifier, trained_heads_path
        from pmon.schemas.codebook import DEFAULT_CODEBOOK, load_codebook
        from pmon.warehouse import Warehouse
        from pmon.warehouse.labels import analyst_training_set

        book = load_codebook(codebook or DEFAULT_CODEBOOK)
        extra = None
        if db.exists():
            with Warehouse.open(db, read_only=True) as wh:
                extra = analyst_training_set(wh.con, book.leaf_ids)
        target = out or trained_heads_path(db)
        with console.status("embedding exemplars and fitting heads"):
            heads = train_classifier(book, load_encoder(), extra=extra, out=target)
        console.print(
            f"[green]trained[/green] {len(heads.leaf_ids)} narrative heads on {heads.meta['examples']} examples "
            f"({heads.meta['analyst_examples']} from analysts) → {target}"
            + ("" if out else f"; runs into {db} use them")
        )

    @review_app.callback()
    def review(
        ctx: typer.Context,
        db: DbOption = DEFAULT_DB,
        limit: int = 20,
        margin: Annotated[
            float, typer.Option(help="scores within this above the threshold count as low-confidence")
        ] = 0.25,
        fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
        wait: ReadWaitOption = DEFAULT_READ_WAIT,
    ) -> None:
        """List low-confidence detections not yet reviewed (confirm or reject them with the sub-commands)."""
        if ctx.invoked_subcommand:
            return
        from pmon.classifiers.narratives.model import THRESHOLD
        from pmon.warehouse.labels import low_confidence

        with reading(db, wait) as wh:
            rows = low_confidence(wh.con, limit=limit, margin=margin, threshold=THRESHOLD)
        emit(rows, fmt, title="to review: pmon review confirm|reject DOCUMENT_ID NARRATIVE",
             columns=["document_id", "narrative", "score", "stance", "lang", "evidence"])

    def _label(
        db: Path, document_id: str, narrative: str, verdict: str, stance: str | None, analyst: str | None
    ) -> None:
        from pmon.warehouse import Warehouse, WarehouseBusy
        from pmon.warehouse.labels import record_label

        try:
            with Warehouse.open(existing_warehouse(db), wait_seconds=30, purpose="review") as wh:
                record_label(wh.con, document_id, narrative, verdict, stance, analyst)
        except (ValueError, WarehouseBusy) as exc:
            raise fail(str(exc)) from exc
        console.print(f"{verdict}ed {narrative} on {document_id}; `pmon train --db {db}` uses it")

    @review_app.command("confirm")
    def confirm(
        document_id: str, narrative: str, db: DbOption = DEFAULT_DB,
        stance: Annotated[str | None, typer.Option(help="promote, report or counter")] = None,
        analyst: Annotated[str | None, typer.Option(help="who reviewed")] = None,
    ) -> None:
        """Confirm a detection (or add a narrative the classifier missed)."""
        _label(db, document_id, narrative, "confirm", stance, analyst)

    @review_app.command("reject")
    def reject(
        document_id: str, narrative: str, db: DbOption = DEFAULT_DB,
        analyst: Annotated[str | None, typer.Option(help="who reviewed")] = None,
    ) -> None:
        """Reject a detection: the document does not carry this narrative ('*': it carries none)."""
        _label(db, document_id, narrative, "reject", None, analyst)
