"""Persistence: SQLite through sqlite-utils (connection, migrations, repositories, demo build)."""

from toolkit.store.db import connect, write
from toolkit.store.migrations import migrate, pending

__all__ = ["connect", "migrate", "pending", "write"]
