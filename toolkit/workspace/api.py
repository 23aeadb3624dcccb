"""The workspace's account and data providers (``ws.api``), as the risk platform's GET /api and GET /user
answer them (``risk-platform-api.txt`` lines 1-16 and 106-115).

A workspace has no user account, credits or subscriptions: GET /user's equivalent is the workspace
itself (its name, the User Feed's ``apiid`` as ``userid``, no credits: nothing is metered) and, as its
subscriptions, the data providers it holds series of, with their history's span and size. GET /api
lists those providers (:mod:`toolkit.market.providers`) and always the User Feed, where PUT /history
stores a user's own series.
"""

from __future__ import annotations

import pandas as pd

from toolkit.contracts.risk.history import Provider, Subscription, UserStatus
from toolkit.market import providers
from toolkit.workspace.context import Context
from toolkit.workspace.history import History
from toolkit.workspace.instruments import Answers, Instruments


class Api:
    """GET /api (:meth:`providers`) and GET /user (:meth:`user`)."""

    def __init__(self, ctx: Context, *, instruments: Instruments, history: History) -> None:
        self._ctx = ctx
        self._instruments = instruments
        self._history = history

    def providers(self) -> Answers:
        """GET /api: the data providers the workspace holds series of, and the User Feed: ``apiid``,
        ``api_name``; added: ``sources``, ``instruments`` and the daily history's first and last day."""
        table = self._table()
        found = []
        for provider in providers.PROVIDERS:
            rows = table[table["source"] == provider.source]
            if rows.empty and provider.apiid != providers.USER_FEED:
                continue
            found.append(Provider(apiid=provider.apiid, api_name=provider.api_name, sources=[provider.source],
                                  instruments=len(rows), history_start=_day(rows["history_start"].min()),
                                  history_end=_day(rows["history_end"].max())))
        return Answers(found, pd.DataFrame([p.to_dict() for p in found]))

    def user(self) -> UserStatus:
        """GET /user, as a workspace answers it (see the module docstring and
        :class:`~toolkit.contracts.risk.history.UserStatus`)."""
        table = self._table()
        subscriptions = [Subscription(paidCredits=0, period_start=p.history_start, period_end=p.history_end,
                                      product_name=p.api_name, apiid=p.apiid, instruments=p.instruments,
                                      n_records=int(table.loc[table["source"].isin(p.sources), "n_records"].sum()))
                         for p in self.providers()]
        return UserStatus(name=self._ctx.path.stem, userid=providers.USER_FEED, email="", organisation="",
                          credits_consumed=0, subscriptions=subscriptions, credits_remaining=0, credits_total=0,
                          path=str(self._ctx.path), instruments=len(table),
                          price_records=int(self._history.status()["n_records"].sum()))

    def _table(self) -> pd.DataFrame:
        return self._instruments.table()


def _day(value: object) -> str | None:
    """The day of a stored time (``None`` for none)."""
    return str(value)[:10] if isinstance(value, str) else None
