"""Persistence: SQLite through sqlite-utils (connection, migrations, repositories, demo build)."""

from toolkit.store.db import BusyError, backup, connect, write
from toolkit.store.migrations import migrate, pending

__all__ = ["BusyError", "backup", "connect", "migrate", "pending", "write"]
