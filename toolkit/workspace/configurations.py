from __future__ import annotations

import uuid

from toolkit.contracts.brokerage import PortfolioConfigurationRequest, PortfolioConfigurationUpdate, parse
from toolkit.errors import ConflictError, NotFoundError, Problems
from toolkit.store.accounts import AccountRepository, ConfigurationRepository
from toolkit.store.allocations import AllocationRepository
from toolkit.store.events import EventRepository
from toolkit.store.repositories import now
from toolkit.trading.accounts import Configuration
from toolkit.workspace.context import Context


class Configurations:
    """Links a PORTFOLIO account to the allocation it tracks; switching changes only the target."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._repo = ConfigurationRepository(ctx.db)
        self._events = EventRepository(ctx.db)

    def create(self, request: object) -> Configuration:
        """``POST /portfolios/configurations`` (brokerage document, line 57): the seed's request
        ``{"account_id": ..., "allocation_id": ...}`` (a dict, JSON text or
        :class:`~toolkit.contracts.brokerage.PortfolioConfigurationRequest`); an account has at most one
        configuration. Answers the configuration, whose ``to_dict()`` leads with ``account_id`` (line 66)."""
        return self._save(parse(PortfolioConfigurationRequest, request, "configuration"), create=True)

    def switch(self, account_id: str, request: object) -> Configuration:
        """``PATCH /portfolios/configurations/{account_id}`` (line 174): point the account at another
        allocation, given as the seed's body ``{"allocation_id": ...}`` (a dict, JSON text or
        :class:`~toolkit.contracts.brokerage.PortfolioConfigurationUpdate`) or as the allocation's id;
        the reallocation happens at the next rebalancing (line 170)."""
        if isinstance(request, str) and not request.lstrip().startswith("{"):
            request = {"allocation_id": request}  # the allocation's id itself
        update = parse(PortfolioConfigurationUpdate, request, "configuration")
        return self._save(parse(PortfolioConfigurationRequest, {"account_id": account_id, **update.to_dict()},
                                "configuration"), create=False)

    def get(self, account_id: str) -> Configuration:
        found = self._repo.for_account(account_id) if isinstance(account_id, str) else None
        if found is None:
            raise NotFoundError(f"Account {account_id!r} has no configuration.")
        return found

    def _save(self, request: PortfolioConfigurationRequest, create: bool) -> Configuration:
        problems = Problems()
        account_id, allocation_id = request.account_id, request.allocation_id
        stamp = now(precise=True)
        with self._ctx.transaction():
            account = AccountRepository(self._ctx.db).get(account_id)
            if account is None:
                problems.add("account_id", f"no account with id {account_id}")
            elif account.type != "PORTFOLIO":
                problems.add("account_id", f"is a {account.type} account; configurations link PORTFOLIO accounts")
            if not AllocationRepository(self._ctx.db).exists(allocation_id):
                problems.add("allocation_id", f"no allocation with id {allocation_id}")
            elif account is not None:
                other = AllocationRepository(self._ctx.db).foreign_currency([allocation_id], account.currency)
                if other:
                    problems.add("allocation_id", f"holds {other}, but account {account_id} is in "
                                                  f"{account.currency}")
            problems.raise_if_any("configuration")
            existing = self._repo.for_account(account_id)
            if create and existing is not None:
                raise ConflictError(f"Account {account_id} already has a configuration; switch its allocation "
                                    "with configurations.switch().")
            if not create and existing is None:
                raise NotFoundError(f"Account {account_id} has no configuration to switch; create one first.")
            self._repo.upsert(str(uuid.uuid4()), account_id, allocation_id, stamp)
            saved = self._repo.for_account(account_id)
            assert saved is not None  # upserted just above
            self._events.record("CONFIGURATION.CREATED" if create else "CONFIGURATION.UPDATED",
                                saved.id, saved.to_dict(), stamp)
        return saved
