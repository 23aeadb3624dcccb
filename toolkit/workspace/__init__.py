"""The façade: :class:`Workspace`, one module per seed resource (see :mod:`toolkit.workspace.core`)."""

from toolkit.workspace.core import ENV_VAR, Workspace
from toolkit.workspace.orders import PortfolioOrder

__all__ = ["ENV_VAR", "PortfolioOrder", "Workspace"]
