"""`pmon demo`: the real monitor flow over the bundled synthetic media, served from 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from pmon.cli.output import console


def run_demo(db: Path, media_dir: Path, port: int = 8731) -> None:
    """Render the sample media, serve them locally, run `monitor` into `db`, print the trend comparison."""
    from pmon.flows.monitor import run_monitor
    from pmon.ingestion.local_server import serve_directory
    from pmon.sample_media import render
    from pmon.schemas.codebook import load_codebook
    from pmon.warehouse import Warehouse, compare_windows

    media_dir.mkdir(parents=True, exist_ok=True)
    with serve_directory(media_dir, port=port) as base_url:
        with console.status("rendering the synthetic sample media"):
            manifest = render(media_dir, base_url=base_url)
        console.print(
            f"[bold]sample media[/bold]: {manifest.total_items} synthetic items in "
            f"{len(manifest.items_per_source)} sources ("
            + ", ".join(f"{lang} {n}" for lang, n in sorted(manifest.items_per_language.items()))
            + f") served at {base_url}"
        )
        summary = run_monitor(media_dir / "sources.yaml", db, progress=True)
    record = summary.as_record()
    console.print(
        f"[bold]run {record['status']}[/bold]: {record['documents_new']} new documents, "
        f"{record['detections_new']} new detections, {record['quarantined']} quarantined → {db}"
    )
    with Warehouse.open(db, read_only=True) as wh:
        total = wh.count("documents")
        langs = wh.con.execute("SELECT lang, count(*) FROM documents GROUP BY 1 ORDER BY 2 DESC").fetchall()
        rows = compare_windows(wh.con, recent_days=30, baseline_days=60)
    console.print(f"warehouse: {total} documents; languages: " + ", ".join(f"{lang} {n}" for lang, n in langs))
    table = Table(title="narratives × language: last 30 days against the 60 before (top movers)")
    for column in ("narrative", "lang", "recent", "baseline", "per 30 days", "change"):
        table.add_column(column, justify="left" if column in ("narrative", "lang") else "right",
                         no_wrap=column in ("narrative", "per 30 days"))
    leaves = set(load_codebook().leaf_ids)  # parents are sums of their leaves: leave them out of this table
    # Rank by how far the last 30 days are above what the baseline rate predicts: big, well-supported rises first.
    movers = [r for r in rows if r["narrative"] in leaves and r["recent"] >= 3]
    movers.sort(key=lambda r: -(r["recent"] - r["baseline"] * 30 / 60))
    for r in movers[:15]:
        change = "new" if r["change"] is None else f"×{r['change']:.1f}"
        style = "bold red" if (r["change"] is None or r["change"] >= 2) and r["recent"] >= 5 else None
        table.add_row(r["narrative"], r["lang"], str(r["recent"]), str(r["baseline"]),
                      f"{r['baseline_per_30d']:.1f} → {r['recent_per_30d']:.1f}", change, style=style)
    console.print(table)
    console.print(
        f"next: [bold]pmon trends --db {db} --by narrative,lang --period week --since 90d --format json[/bold]"
    )

