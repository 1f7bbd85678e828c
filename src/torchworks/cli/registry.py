"""``torchworks registry add|list|promote|rollback``: versioned models with aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

registry_app = typer.Typer(help="Versioned models with aliases (production, staging...).", no_args_is_help=True)
REGISTRY_HELP = "sqlite:///PATH.db (MLflow) or dir:PATH; default $TORCHWORKS_REGISTRY or sqlite:///runs/mlflow.db."


@registry_app.command("add")
def registry_add(
    run: Path = typer.Argument(..., help="A run folder, or a .tar.gz/.zip of one."),
    name: str = typer.Option(..., "--name", help="The registered model's name, e.g. tickets."),
    alias: Optional[str] = typer.Option(None, help="Also point this alias at the new version."),
    registry: Optional[str] = typer.Option(None, help=REGISTRY_HELP),
) -> None:
    """Register a copy of a bundle as the next version of NAME."""
    from torchworks.registry import open_registry

    store = open_registry(registry)
    version = store.add(run, name)
    if alias:
        version = store.promote(name, version.version, alias)
    typer.echo(f"registered {name} version {version.version}{' as ' + alias if alias else ''} in {store.location}")


@registry_app.command("list")
def registry_list(
    name: Optional[str] = typer.Argument(None, help="A model: list its versions."),
    registry: Optional[str] = typer.Option(None, help=REGISTRY_HELP),
) -> None:
    """Registered models, or the versions of one."""
    from torchworks.registry import open_registry

    store = open_registry(registry)
    if name is None:
        for known in store.names():
            versions = store.versions(known)
            aliases = ", ".join(f"{a}={v.version}" for v in versions for a in v.aliases)
            typer.echo(f"{known:<24} {len(versions)} versions  {aliases}")
        return
    store.get(name)  # a clear error when there is no such model
    for version in store.versions(name):
        metrics = version.lineage.get("metrics", {})
        shown = "  ".join(f"{k}={v:.4f}" for k, v in list(metrics.items())[:3])
        typer.echo(f"{version.version:>4}  {','.join(version.aliases) or '-':<20} {version.lineage.get('task', '?'):<20} "
                   f"{shown}  run={version.lineage.get('run_name', '?')}")


@registry_app.command("promote")
def registry_promote(
    name: str = typer.Argument(..., help="The registered model."),
    version: int = typer.Argument(..., help="The version to promote."),
    alias: str = typer.Option(..., help="The alias to point at it, e.g. production."),
    registry: Optional[str] = typer.Option(None, help=REGISTRY_HELP),
) -> None:
    """Point ALIAS at VERSION (serve registry:NAME@ALIAS picks it up on its next start)."""
    from torchworks.registry import open_registry

    open_registry(registry).promote(name, version, alias)
    typer.echo(f"{name}@{alias} -> version {version}")


@registry_app.command("rollback")
def registry_rollback(
    name: str = typer.Argument(..., help="The registered model."),
    alias: str = typer.Option(..., help="The alias to move back, e.g. production."),
    registry: Optional[str] = typer.Option(None, help=REGISTRY_HELP),
) -> None:
    """Point ALIAS back at the version it named before its last promotion."""
    from torchworks.registry import open_registry

    version = open_registry(registry).rollback(name, alias)
    typer.echo(f"{name}@{alias} -> version {version.version}")
