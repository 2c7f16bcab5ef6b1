"""`pmon link` and `pmon eval links`: message links from the command line, thin over `pmon.classifiers.links`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from pmon.cli.language import EvalFormat
from pmon.cli.options import fail
from pmon.cli.output import err_console, make_console

FileArgument = Annotated[Path | None, typer.Argument(help="JSONL file; '-' or nothing: standard input")]
WindowOption = Annotated[
    float, typer.Option("--window-hours", min=1.0, help="documents further apart are never linked")
]


class LinkInputError(ValueError):
    """A JSONL line that cannot be linked; the message names the line and what is wrong."""


def read_documents(source: Path | None, *, need_group: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """Parse `{"id","text","published_at","source"}` lines (and `group` when `need_group`).

    Returns:
        (records with a parsed `published_at`, one error per bad line, naming its number); bad lines are skipped.
    """
    records: list[dict[str, Any]] = []
    errors: list[str] = []
    for number, line in _lines(source):
        if not line.strip():
            continue
        try:
            records.append(_record(line, need_group))
        except LinkInputError as exc:
            errors.append(f"line {number}: {exc}")
    return records, errors


def _lines(source: Path | None) -> Iterator[tuple[int, str]]:
    if source is None or str(source) == "-":
        yield from enumerate(sys.stdin, start=1)
        return
    with source.open(encoding="utf-8") as stream:
        yield from enumerate(stream, start=1)


def _record(line: str, need_group: bool) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise LinkInputError(f"invalid JSON ({exc})") from exc
    if not isinstance(record, dict):
        raise LinkInputError("expected a JSON object with 'id', 'text' and 'published_at'")
    if not isinstance(record.get("text"), str) or not record["text"].strip():
        raise LinkInputError("expected a non-empty string 'text'")
    if not isinstance(record.get("id"), str | int) or isinstance(record.get("id"), bool):
        raise LinkInputError("expected an 'id' (string or number)")
    if need_group and not isinstance(record.get("group"), str | int):
        raise LinkInputError("expected a 'group' (string or number)")
    try:
        published = datetime.fromisoformat(str(record.get("published_at", "")))
    except ValueError as exc:
        raise LinkInputError(
            f"expected an ISO 'published_at' like 2027-01-10T08:00:00Z, got {record.get('published_at')!r}"
        ) from exc
    record["published_at"] = published if published.tzinfo else published.replace(tzinfo=UTC)
    return record


def link_records(records: list[dict[str, Any]], window_hours: float) -> list[dict[str, Any]]:
    """Detect each record's language, embed it with the project's encoder and link; one result per record."""
    from pmon.classifiers.encoders import load_encoder
    from pmon.classifiers.langid import detect_document
    from pmon.classifiers.links import LinkDocument, LinkSettings, document_embeddings, link, sentence_embeddings

    if len({str(r["id"]) for r in records}) != len(records):
        raise LinkInputError("ids must be unique")
    documents = [
        LinkDocument(id=str(r["id"]), text=r["text"], lang=r.get("lang") or detect_document(r["text"]).lang,
                     published_at=r["published_at"], source=str(r.get("source") or ""))
        for r in records
    ]
    encoder = load_encoder()
    sentences = sentence_embeddings([d.text for d in documents], encoder.encode, dim=encoder.dim)
    memberships = link(documents, document_embeddings(sentences=sentences), LinkSettings(window_hours=window_hours),
                       sentences=sentences)
    return [
        {"id": r["id"], "group": memberships[d.id].group, "lang": d.lang, "first_id": memberships[d.id].first_id,
         "lag_hours": memberships[d.id].lag_hours}
        for r, d in zip(records, documents, strict=True)
    ]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `link` to `app` and `links` to `eval_app` (`pmon eval links`)."""

    @app.command("link")
    def link_command(file: FileArgument = None, window_hours: WindowOption = 168.0) -> None:
        """Group translations and near-duplicates: JSONL {id, text, published_at, source} in, one JSONL line out
        per input line: {id, group, lang, first_id, lag_hours}.

        A bad line is reported on standard error with its number and skipped; the exit code is then 1.
        """
        if file is not None and str(file) != "-" and not file.is_file():
            raise fail(f"{file}: no such file", code=2)
        records, errors = read_documents(file)
        for error in errors:
            err_console.print(f"error: {error}", highlight=False, markup=False)
        try:
            results = link_records(records, window_hours) if records else []
        except LinkInputError as exc:
            raise fail(str(exc)) from exc
        for result in results:
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        if errors:
            raise typer.Exit(1)

    @eval_app.command("links")
    def eval_links(
        gold: Annotated[Path, typer.Argument(help="JSONL {id, text, published_at, source, group} per line")],
        window_hours: WindowOption = 168.0,
        fmt: Annotated[EvalFormat, typer.Option("--format", help="table or json")] = EvalFormat.table,
    ) -> None:
        """Pair precision and recall of `pmon link` against gold groups, and how many lone documents got linked."""
        from pmon.classifiers.links import pair_scores

        if not gold.is_file():
            raise fail(f"{gold}: no such file", code=2)
        records, errors = read_documents(gold, need_group=True)
        if errors:
            raise fail(f"{gold}: {errors[0]}" + (f" (and {len(errors) - 1} more bad lines)" if len(errors) > 1 else ""))
        if not records:
            raise fail(f"{gold}: no documents")
        try:
            results = link_records(records, window_hours)
        except LinkInputError as exc:
            raise fail(f"{gold}: {exc}") from exc
        scores = pair_scores({str(r["id"]): str(r["group"]) for r in results},
                             {str(r["id"]): str(r["group"]) for r in records})
        summary = {
            "documents": len(records), "pair_precision": round(scores.precision, 4),
            "pair_recall": round(scores.recall, 4), "true_pairs": scores.true_pairs,
            "predicted_pairs": scores.predicted_pairs, "gold_pairs": scores.gold_pairs,
            "unrelated": scores.unrelated, "unrelated_linked": scores.unrelated_linked,
        }
        if fmt is EvalFormat.json:
            sys.stdout.write(json.dumps(summary) + "\n")
            return
        console = make_console()
        for key, value in summary.items():
            console.print(f"{key:>16}  {value}", highlight=False)
