"""``geocarbon schemes``: the built-in class schemes and their crosswalks."""

from __future__ import annotations

import click


@click.command()
@click.argument("name", required=False)
def schemes(name: str | None) -> None:
    """List the built-in class schemes, or the classes of one scheme with its CLCD crosswalk."""
    from geocarbon.inputs.schemes import get_scheme, scheme_names

    if name is None:
        for scheme_name in scheme_names():
            scheme = get_scheme(scheme_name)
            click.echo(f"{scheme.name:16} {len(scheme.codes):3d} classes  {scheme.title}")
        click.echo(
            "\nBuilt-in density tables: china-clcd (CLCD codes; other schemes via --scheme)."
        )
        return
    scheme = get_scheme(name)
    click.echo(f"{scheme.title}\nsource: {scheme.source}\n")
    for code, class_name, target in zip(scheme.codes, scheme.names, scheme.to_clcd, strict=True):
        arrow = f"-> CLCD {target}" if target is not None and scheme.name != "clcd" else ""
        click.echo(f"{code:5d}  {class_name:45} {arrow}")
