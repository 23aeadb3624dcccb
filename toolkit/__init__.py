"""Portfolio Toolkit: model portfolios, risk and performance reporting on xarray, SQLite and Voilà."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from toolkit.workspace import Workspace


def __getattr__(name: str):
    # the façade is imported on first use, so `import toolkit` stays light
    if name == "Workspace":
        from toolkit.workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")


__all__ = ["Workspace", "__version__"]
