from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

import numpy as np
import pandas as pd
import xarray as xr

from toolkit.analytics import factors as fa
from toolkit.analytics import risk
from toolkit.analytics.returns import simple_returns
from toolkit.analytics.risk_portfolio import (
    cvar_contributions,
    diversification_ratio,
    volatility_contributions,
    weighted_returns,
)
from toolkit.contracts.base import read
from toolkit.contracts.risk import analytics as seed
from toolkit.errors import DataError, NotFoundError, Problem, Problems, ValidationError
from toolkit.market.history import parse_history
from toolkit.market.instruments import describe
from toolkit.reporting.formatting import camel, json_number, json_value
from toolkit.schema import (
    HORIZON,
    INSTRUMENT,
    LEVEL,
    PORTFOLIO,
    TIME,
    Timeframe,
    validate_market,
)
from toolkit.store.accounts import AccountRepository
from toolkit.store.cache import memo
from toolkit.store.orders import BookRepository
from toolkit.store.portfolios import RiskPortfolioRepository
from toolkit.store.repositories import PriceRepository
from toolkit.validation import decimal_or_none, read_period, shown
from toolkit.workspace.context import Context
from toolkit.workspace.history import History
from toolkit.workspace.instruments import Instruments
from toolkit.workspace.portfolios import check_as_of, located, open_on, status_dates

#: the market index and the style factor ETFs used as factor proxies (symbols in the workspace)
MARKET, STYLES = "SPX", ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")


#: the factors of the default regression model: the single-index (market) model
MODEL: tuple[str, ...] = (MARKET,)


#: the source of the sector constituents: the 20 S&P 500 stocks of data/sp500_stocks.csv
CONSTITUENTS_SOURCE = "skfolio"


#: the seed's keys of a component's contributions, and the variables they come from
CONTRIBUTION_KEYS = (("marginalVolatility", "volatility_marginal"),
                     ("volatilityContribution", "volatility_contribution"),
                     ("volatilityContributionPercent", "volatility_percent"), ("marginalCvar", "cvar_marginal"),
                     ("cvarContribution", "cvar_contribution"), ("cvarContributionPercent", "cvar_percent"))


Curve: TypeAlias = Mapping | pd.Series | pd.DataFrame | xr.DataArray


Weights: TypeAlias = Mapping[str, Any]


PortfolioSpec: TypeAlias = str | Weights | Sequence[str | Weights] | xr.DataArray


def _span(returns: xr.DataArray) -> xr.Dataset:
    """First and last date with a return, and the number of returns, of every series."""
    dated = returns[TIME].where(returns.notnull())
    return xr.Dataset({"start": dated.min(TIME, skipna=True), "end": dated.max(TIME, skipna=True),  # (NaT skipped)
                       "observations": returns.count(TIME)})


#: what the document calls each kind of factor proxy (``exposure[].factor_type``, line 1205)
FACTOR_TYPES = {"market": "geographic", "style": "style", "sector": "sector"}
#: the market index's country: the S&P 500 is the United States' market (``factor_focus`` "USA")
MARKET_FOCUS, MARKET_NAME = "USA", "United States"
#: what the style ETFs stand for
STYLE_NAMES = {"MTUM": "Momentum", "QUAL": "Quality", "SIZE": "Size", "USMV": "Minimum Volatility", "VLUE": "Value"}
#: the toolkit's expected-return estimators under the document's names (line 1214)
ESTIMATOR_NAMES = {"sample": "equally_weighted_sample", "ewma": "exponentially_weighted_sample",
                   "factor": "equally_weighted_factor_model", "factor_ewma": "exponentially_weighted_factor_model"}


def described(table: pd.DataFrame, ids: list[str]) -> dict[str, dict]:
    """The instrument object (:func:`toolkit.market.instruments.describe`: code, apiid, exchange,
    asset type ...) of each instrument id, from the registry ``table``."""
    rows = table[table["instrument_id"].isin(list(ids))].drop_duplicates("instrument_id")
    return {str(r["instrument_id"]): describe(r) for r in rows.to_dict("records")}


def level_key(level: float) -> str:
    """A confidence level as the document keys it: ``"0.975"``, ``"0.9"``."""
    return repr(float(level))


def seed_risk(one: xr.Dataset, subject: str, model: type[seed.RiskMeasures] = seed.RiskMeasures,
              **extra: Any) -> seed.RiskMeasures:
    """The risk cube of one series (``var``/``cvar`` over level and horizon, positive = loss;
    ``volatility`` over horizon) in the document's signs and words: VaR and CVaR as returns."""
    horizons = [str(h) for h in one[HORIZON].values]

    def tail(name: str) -> dict[str, dict[str, float]]:
        return {level_key(lv): {h: -float(one[name].sel({LEVEL: lv, HORIZON: h})) for h in horizons}
                for lv in one[LEVEL].values}

    volatility = {h: float(one["volatility"].sel({HORIZON: h})) for h in horizons}
    base = seed.RiskMeasures.of(tail("var"), tail("cvar"), volatility, subject)
    return model(**dict(base), **extra)


def seed_exposures(one: xr.Dataset | None) -> list[seed.Exposure]:
    """The single-factor betas of one series as the document lists them (line 1202)."""
    if one is None:
        return []
    out = []
    for factor in one[fa.FACTOR].values:
        kind = str(one["kind"].sel({fa.FACTOR: factor}).item())
        name = str(factor)
        focus, label = (MARKET_FOCUS, MARKET_NAME) if kind == "market" else (name, STYLE_NAMES.get(name, name))
        out.append(seed.Exposure(beta=json_number(one["beta"].sel({fa.FACTOR: factor})), factor_focus=focus,
                                 factor_type=FACTOR_TYPES[kind], factor_name=label))
    return out


def horizon_of(annual: float | None, horizon: str, root: bool = False) -> float | None:
    """An annual figure over one ``horizon``: divided by its periods a year (their square root for a
    volatility)."""
    if annual is None or math.isnan(annual):
        return None
    periods = float(risk.PERIODS_PER_YEAR[horizon])
    return annual / (math.sqrt(periods) if root else periods)


@dataclass(frozen=True)
class SeriesAnalytics:
    """What instrument and portfolio analytics share: the risk of each series at every level and
    horizon (with commentary), exposures, the model regression and expected returns. ``dim`` is
    the series dimension (``instrument`` or ``portfolio``)."""

    dim: str
    risk: xr.Dataset
    exposures: xr.Dataset | None
    regression: xr.Dataset | None
    expected_returns: xr.DataArray
    span: xr.Dataset

    def labels(self) -> list[str]:
        return [str(v) for v in self.risk[self.dim].values]

    def to_pandas(self) -> pd.DataFrame:
        """The VaR / CVaR table: one row per series, horizon and level, with the commentary."""
        names = ["var", "cvar", "var_commentary", "cvar_commentary"]
        return self.risk[names].to_dataframe(dim_order=[self.dim, HORIZON, LEVEL])[names]

    def to_xarray(self) -> xr.Dataset:
        """Every result as one Dataset: the risk cube, ``exposure`` and ``exposure_r_squared`` over
        ``factor``, the model's ``alpha``, ``alpha_annual``, ``r_squared``, ``idiosyncratic_vol``,
        ``factor_beta`` (over ``factor``, NaN outside the model) and ``expected_return`` over
        ``estimator``."""
        parts = [self.risk, self.expected_returns.rename("expected_return").to_dataset(), self.span]
        if self.exposures is not None:
            parts.append(self.exposures[["beta", "r_squared"]].rename(beta="exposure", r_squared="exposure_r_squared"))
        if self.regression is not None:
            fit = self.regression
            beta = fit["beta"] if self.exposures is None else fit["beta"].reindex(
                {fa.FACTOR: self.exposures[fa.FACTOR].values})  # keeps the proxies' order in the merge
            parts.append(xr.Dataset({"factor_beta": beta, "alpha": fit["alpha"],
                                     "alpha_annual": fit["alpha_annual"], "r_squared": fit["r_squared"],
                                     "idiosyncratic_vol": fit["idiosyncratic_vol"]}).drop_vars(
                [c for c in fit.coords if c not in fit.dims], errors="ignore"))
        return xr.merge(parts, join="outer", compat="override", combine_attrs="drop_conflicts")

    def seed_parts(self, label: str, subject: str) -> dict:
        """The parts the document's instrument and portfolio answers share, for series ``label``:
        ``risk``, ``exposure``, ``expected_returns`` by estimator and per horizon (the equally weighted
        sample is the mean return per horizon, as ``average_returns``; the others are the annual
        estimates over each horizon's share of a year), ``average_returns`` and ``regression``
        (``alpha`` annualised, ``idiosyncratic_risk`` per horizon)."""
        one = self.risk.sel({self.dim: label})
        means = {str(h): json_number(one["mean"].sel({HORIZON: h})) for h in one[HORIZON].values}
        annual = self.expected_returns.sel({self.dim: label})
        estimates = {}
        for estimator, name in ESTIMATOR_NAMES.items():
            if estimator == "sample":
                estimates[name] = seed.Horizons.of(means)
            elif estimator in annual[fa.ESTIMATOR].values:
                value = float(annual.sel({fa.ESTIMATOR: estimator}))
                estimates[name] = seed.Horizons.of({h: horizon_of(value, h) for h in seed.HORIZON_ORDER})
            else:
                estimates[name] = seed.Horizons.of({})
        fit = None if self.regression is None else self.regression.sel({self.dim: label})
        idio = None if fit is None else json_number(fit["idiosyncratic_vol"])
        regression = seed.Regression(
            idiosyncratic_risk=seed.Horizons.of({h: horizon_of(idio, h, root=True) for h in seed.HORIZON_ORDER}),
            r_squared=None if fit is None else json_number(fit["r_squared"]),
            alpha=None if fit is None else json_number(fit["alpha_annual"]))
        exposures = None if self.exposures is None else self.exposures.sel({self.dim: label})
        return {"risk": seed_risk(one, subject), "exposure": seed_exposures(exposures),
                "expected_returns": seed.ExpectedReturns(**estimates), "average_returns": seed.Horizons.of(means),
                "regression": regression}

    def _body(self, label: str) -> dict:
        one = self.risk.sel({self.dim: label})
        span = self.span.sel({self.dim: label})
        rows = []
        for h in one[HORIZON].values:
            for lv in one[LEVEL].values:
                at = one.sel({HORIZON: h, LEVEL: lv})
                rows.append({"horizon": str(h), "level": float(lv), "valueAtRisk": json_number(at["var"]),
                             "conditionalValueAtRisk": json_number(at["cvar"]),
                             "varCommentary": str(at["var_commentary"].item()),
                             "cvarCommentary": str(at["cvar_commentary"].item())})
        volatility = [{"horizon": str(h), "volatility": json_number(one["volatility"].sel({HORIZON: h})),
                       "annualisedVolatility": json_number(one["annual_volatility"].sel({HORIZON: h})),
                       "averageReturn": json_number(one["mean"].sel({HORIZON: h})),
                       "observations": int(one["count"].sel({HORIZON: h}))} for h in one[HORIZON].values]
        expected = self.expected_returns.sel({self.dim: label})
        body = {"startDate": json_value(span["start"].values), "endDate": json_value(span["end"].values),
                "observations": int(span["observations"]), "risk": rows, "volatility": volatility,
                "expectedReturns": {camel(e): json_number(expected.sel({fa.ESTIMATOR: e}))
                                    for e in expected[fa.ESTIMATOR].values},
                "exposures": self._exposure_rows(label), "regression": self._regression(label),
                "commentary": [r["varCommentary"] for r in rows if r["varCommentary"]]}
        return body

    def _exposure_rows(self, label: str) -> list[dict]:
        if self.exposures is None:
            return []
        one = self.exposures.sel({self.dim: label})
        return [{"factor": str(f), "kind": str(one["kind"].sel({fa.FACTOR: f}).item()),
                 "beta": json_number(one["beta"].sel({fa.FACTOR: f})),
                 "rSquared": json_number(one["r_squared"].sel({fa.FACTOR: f})),
                 "observations": int(one["count"].sel({fa.FACTOR: f}))} for f in one[fa.FACTOR].values]

    def _regression(self, label: str) -> dict | None:
        if self.regression is None:
            return None
        fit = self.regression.sel({self.dim: label})
        return {"factors": [str(f) for f in fit[fa.FACTOR].values], "alpha": json_number(fit["alpha"]),
                "alphaAnnual": json_number(fit["alpha_annual"]), "rSquared": json_number(fit["r_squared"]),
                "idiosyncraticRisk": json_number(fit["idiosyncratic_vol"]),
                "idiosyncraticShare": json_number(fit["idiosyncratic_share"]), "observations": int(fit["count"]),
                "factorSummary": [{"factor": str(f), "beta": json_number(fit["beta"].sel({fa.FACTOR: f})),
                                   "varianceShare": json_number(fit["variance_share"].sel({fa.FACTOR: f})),
                                   "factorMean": json_number(fit["factor_mean"].sel({fa.FACTOR: f})),
                                   "factorVolatility": json_number(fit["factor_vol"].sel({fa.FACTOR: f}))}
                                  for f in fit[fa.FACTOR].values]}


@dataclass(frozen=True)
class InstrumentAnalytics(SeriesAnalytics):
    """Analytics of instruments (or price curves) over ``instrument``; see :meth:`Analytics.instrument`."""

    def answer(self, label: str | None = None) -> seed.InstrumentAnalytics:
        """GET /history/analytics's answer for one instrument (the first by default)."""
        return seed.InstrumentAnalytics(**self.seed_parts(label or self.labels()[0], "instrument"))

    def to_dict(self) -> dict | list[dict]:
        """The document's answer (``risk-platform-api.txt`` lines 1110-1236; a list of them for
        several instruments): ``risk`` (VaR and CVaR by level and horizon, as returns, with their
        sentences; volatility per horizon), ``exposure``, ``expected_returns``, ``average_returns``
        and ``regression``."""
        out = [self.answer(label).to_dict() for label in self.labels()]
        return out[0] if len(out) == 1 else out

    def summary(self) -> dict | list[dict]:
        """The toolkit's fuller layout (a list of them for several): identity,
        sample, ``risk`` (VaR / CVaR per horizon and level with ``varCommentary`` and
        ``cvarCommentary``), ``volatility`` and ``averageReturn`` per horizon, ``exposures``,
        ``regression`` (alpha, R^2, idiosyncratic risk, factor summary), ``expectedReturns``
        and ``commentary``."""
        out = []
        for label in self.labels():
            meta = self.risk.sel({INSTRUMENT: label})
            ident = {"instrument": label, **{camel(c): json_value(meta[c].item()) if c in meta.coords else None
                                             for c in ("instrument_id", "symbol", "isin", "name", "currency")}}
            out.append(ident | self._body(label))
        return out[0] if len(out) == 1 else out


@dataclass(frozen=True)
class BenchmarkAnalytics:
    """One curve (or several) against a benchmark: ``alpha_annual``, ``beta``, ``r_squared``,
    ``idiosyncratic_vol``, ``cvar`` and ``active_cvar`` (:func:`toolkit.analytics.factors.benchmark_analytics`),
    ``tracking_error`` (annualised std of the active return) and the sample, over ``dim``."""

    dim: str
    benchmark: str
    level: float
    result: xr.Dataset

    def to_xarray(self) -> xr.Dataset:
        return self.result

    def to_pandas(self) -> pd.DataFrame:
        return self.result.drop_vars([c for c in self.result.coords if c not in self.result.dims]).to_dataframe()

    def row(self, label: str) -> dict:
        """The seed's layout for one series: the sample, ``alpha`` (annualised), ``beta``,
        ``rSquared``, ``idiosyncraticRisk``, ``trackingError``, ``cvar``, ``activeCvar``, ``commentary``."""
        one = self.result.sel({self.dim: label})
        sentences = [str(one[k].item()) for k in ("cvar_commentary", "active_commentary")]
        return {self.dim: str(label), "benchmark": self.benchmark, "level": self.level,
                "startDate": json_value(one["start"].values), "endDate": json_value(one["end"].values),
                "observations": int(one["observations"]), "alpha": json_number(one["alpha_annual"]),
                "beta": json_number(one["beta"]), "rSquared": json_number(one["r_squared"]),
                "idiosyncraticRisk": json_number(one["idiosyncratic_vol"]),
                "trackingError": json_number(one["tracking_error"]), "cvar": json_number(one["cvar"]),
                "activeCvar": json_number(one["active_cvar"]), "commentary": [s for s in sentences if s]}

    def answer(self, label: str | None = None) -> seed.BenchmarkAnalytics:
        """GET /history/benchmark's answer for one series (the first by default): CVaR as a return."""
        one = self.result.sel({self.dim: label if label is not None else self.result[self.dim].values[0]})
        cvar = json_number(one["cvar"])
        return seed.BenchmarkAnalytics(alpha=json_number(one["alpha_annual"]), beta=json_number(one["beta"]),
                                       cvar=None if cvar is None else -cvar,
                                       idiosyncratic_risk=json_number(one["idiosyncratic_vol"]),
                                       r_squared=json_number(one["r_squared"]),
                                       tracking_error=json_number(one["tracking_error"]))

    def to_dict(self) -> dict | list[dict]:
        """The document's answer (line 1243; a list of them for several series)."""
        out = [self.answer(label).to_dict() for label in self.result[self.dim].values]
        return out[0] if len(out) == 1 else out

    def summary(self) -> dict | list[dict]:
        """:meth:`row` of the series (a list of them for several): the toolkit's fuller layout."""
        out = [self.row(label) for label in self.result[self.dim].values]
        return out[0] if len(out) == 1 else out


@dataclass(frozen=True)
class PortfolioAnalytics(SeriesAnalytics):
    """Analytics of portfolios over ``portfolio``; see :meth:`Analytics.portfolio`. Beyond the
    shared parts: ``weights`` (portfolio, instrument), ``components`` (the risk of each held
    instrument, same cube as ``risk``), ``contributions`` (Euler contributions to annualised
    volatility and to CVaR at ``level`` over ``horizon``), ``diversification`` (ratio, rating)."""

    weights: xr.DataArray
    components: xr.Dataset
    contributions: xr.Dataset
    diversification: xr.Dataset
    level: float
    horizon: str
    sources: dict
    benchmark: BenchmarkAnalytics | None
    component_exposures: xr.Dataset | None = None
    meta: dict | None = None  # instrument id -> the instrument object (toolkit.market.instruments.describe)

    def to_xarray(self) -> xr.Dataset:
        """The shared Dataset plus ``weight``, the contributions (``volatility_*``, ``cvar_*``) and
        ``diversification_ratio`` / ``diversification_rating``."""
        extra = xr.Dataset({"weight": self.weights, "diversification_ratio": self.diversification["ratio"],
                            "diversification_rating": self.diversification["rating"]})
        return xr.merge([super().to_xarray(), extra, self.contributions], join="outer", compat="override")

    def contributions_table(self, portfolio: str | None = None) -> pd.DataFrame:
        """Weight, marginal, absolute and percentage contributions to volatility and CVaR of each
        held instrument of ``portfolio`` (the first by default)."""
        label = portfolio if portfolio is not None else self.labels()[0]
        one = self.contributions.sel({PORTFOLIO: label})
        one = one.drop_vars([c for c in one.coords if c not in one.dims])
        frame = one[[k for k in one.data_vars if not str(k).endswith("_total")]].to_dataframe()
        frame.insert(0, "weight", self.weights.sel({PORTFOLIO: label}).to_series())
        if "symbol" in self.weights.coords:
            frame.insert(0, "symbol", self.weights["symbol"].to_series())
        return frame[frame["weight"] != 0]

    def contribution_chart(self, portfolio: str | None = None):
        """A plotly bar chart of the percentage contributions to volatility and to CVaR."""
        import plotly.graph_objects as go

        table = self.contributions_table(portfolio)
        names = table["symbol"] if "symbol" in table else table.index
        fig = go.Figure([go.Bar(name="volatility", x=names, y=table["volatility_percent"]),
                         go.Bar(name=f"CVaR {self.level * 100:g}%", x=names, y=table["cvar_percent"])])
        label = portfolio if portfolio is not None else self.labels()[0]
        fig.update_layout(barmode="group", title=f"Contributions to risk: {label} ({self.horizon} returns)",
                          yaxis_tickformat=".0%", yaxis_title="share of the total", legend_title="risk measure")
        return fig

    def answer(self, label: str | None = None) -> seed.PortfolioAnalytics:
        """GET /portfolio/analytics's answer for one portfolio (the first by default): its risk,
        exposures, expected returns (the mean return per horizon), ``factor_summary`` (the betas
        summed per factor type), ``diversification_ratio`` and ``r_squared`` rated, and per held
        instrument its exposures, its risk with ``marginal_contribution_to_risk`` (its share of the
        portfolio's volatility, Euler) and its mean return per horizon."""
        label = label if label is not None else self.labels()[0]
        parts = self.seed_parts(label, "portfolio")
        weights = self.weights.sel({PORTFOLIO: label})
        contrib = self.contributions.sel({PORTFOLIO: label})
        components = []
        for i, w in zip(weights[INSTRUMENT].values, weights.values):
            if w == 0:
                continue
            one = self.components.sel({INSTRUMENT: i})
            share = json_number(contrib["volatility_percent"].sel({INSTRUMENT: i}))
            contribution = seed.Contribution(volatility=seed.Measure(
                value=share, commentary="" if share is None else seed.contribution_sentence(share)))
            iid = str(weights["instrument_id"].sel({INSTRUMENT: i}).item()) if "instrument_id" in weights.coords \
                else str(i)
            info = (self.meta or {}).get(iid) or {}
            place = info.get("exchange") or {}
            found = self.component_exposures.sel({INSTRUMENT: i}) if self.component_exposures is not None else None
            components.append(seed.Component(
                exposure=seed_exposures(found),
                instrument=seed.ComponentInstrument(
                    symbol=info.get("identifiers", {}).get("symbol") or str(i),
                    country=info.get("classification", {}).get("primary_country"),
                    instrument_code=info.get("instrument_code") or str(i), mic=place.get("mic_code"),
                    name=info.get("name"), weight=float(w), exchange=place.get("name"),
                    currency=info.get("currency"), type=info.get("asset_type") or None, apiid=info.get("apiid") or 0),
                risk=seed_risk(one, "instrument", seed.ComponentRisk, marginal_contribution_to_risk=contribution),
                expected_returns=seed.Horizons.of({str(h): json_number(one["mean"].sel({HORIZON: h}))
                                                   for h in one[HORIZON].values})))
        summary: dict[str, float] = {}
        for item in parts["exposure"]:
            summary[item.factor_type] = summary.get(item.factor_type, 0.0) + (item.beta or 0.0)
        div = self.diversification.sel({PORTFOLIO: label})
        r2 = parts["regression"].r_squared
        return seed.PortfolioAnalytics(
            risk=seed_risk(self.risk.sel({self.dim: label}), "portfolio", seed.PortfolioRisk),
            exposure=parts["exposure"], components=components, expected_returns=parts["average_returns"],
            factor_summary=[seed.FactorSummary(factor_type=k, beta=v) for k, v in summary.items()],
            diversification_ratio=seed.Rated.of(json_number(div["ratio"]), str(div["rating"].item()),
                                                "diversification ratio"),
            r_squared=seed.Rated.of(r2, seed.r_squared_rating(r2), "R-squared"))

    def to_dict(self) -> dict | list[dict]:
        """The document's answer (lines 1437-1803; a list of them for several portfolios)."""
        out = [self.answer(label).to_dict() for label in self.labels()]
        return out[0] if len(out) == 1 else out

    def summary(self) -> dict | list[dict]:
        """One portfolio's analytics in the toolkit's fuller layout (a list for several): ``components``
        with their weights, risk and contributions, the portfolio's ``totalVolatility``
        (annualised) and ``totalCvar`` at ``level`` over ``horizon`` returns, ``diversificationRatio``
        and ``diversificationRating``,
        ``rSquared``, and the parts shared with instrument analytics."""
        out = []
        for label in self.labels():
            body = self._body(label)
            contrib = self.contributions.sel({PORTFOLIO: label})
            parts = self.components.sel({LEVEL: self.level, HORIZON: self.horizon})
            weights = self.weights.sel({PORTFOLIO: label})
            held = [str(i) for i, w in zip(weights[INSTRUMENT].values, weights.values) if w != 0]
            components = [{"instrument": i,
                           "instrumentId": json_value(weights["instrument_id"].sel({INSTRUMENT: i}).item())
                           if "instrument_id" in weights.coords else None,
                           "weight": json_number(weights.sel({INSTRUMENT: i})),
                           "volatility": json_number(parts["annual_volatility"].sel({INSTRUMENT: i})),
                           "valueAtRisk": json_number(parts["var"].sel({INSTRUMENT: i})),
                           "conditionalValueAtRisk": json_number(parts["cvar"].sel({INSTRUMENT: i})),
                           **{key: json_number(contrib[name].sel({INSTRUMENT: i})) for key, name in CONTRIBUTION_KEYS}}
                          for i in held]
            div = self.diversification.sel({PORTFOLIO: label})
            source = self.sources.get(label, {}) if self.sources else {}
            regression = body["regression"]
            out.append({"portfolioId": label, **source, "level": self.level, "horizon": self.horizon,
                        "totalVolatility": json_number(contrib["volatility_total"]),
                        "totalCvar": json_number(contrib["cvar_total"]),
                        "diversificationRatio": json_number(div["ratio"]),
                        "diversificationRating": str(div["rating"].item()),
                        "rSquared": regression["rSquared"] if regression else None, "components": components,
                        **body,
                        "benchmark": self.benchmark.row(label) if self.benchmark is not None else None})
        return out[0] if len(out) == 1 else out


def _window(start: object, end: object) -> tuple[str | None, str | None]:
    """The analytics' window: optional ISO dates, in order (a window without prices, in the future
    say, is a ``DataError`` of the data read for it)."""
    problems = Problems()
    days = read_period(start, end, problems)
    problems.raise_if_any("analytics request")
    first, last = (d.isoformat() if d else None for d in days)
    return first, last


def _is_query(request: object, key: str | None = None) -> bool:
    """Whether ``request`` is one of the document's queries: a dict (holding ``key``, when given: a
    portfolio's weights are a dict too) or JSON text of an object."""
    if isinstance(request, (str, bytes)):
        return request.lstrip()[:1] in ("{", b"{")
    return isinstance(request, Mapping) and (key is None or key in request)


def _iso(day: Any) -> str | None:
    return None if day is None else day.isoformat()


def _as_list(value: Any) -> list:
    return [value] if isinstance(value, (str, float, int)) else list(value)


def _periods(horizons: Sequence[str]) -> xr.DataArray:
    """sqrt(periods a year) of each horizon, over ``horizon``."""
    return xr.DataArray(np.sqrt([float(risk.PERIODS_PER_YEAR[h]) for h in horizons]), dims=HORIZON,
                        coords={HORIZON: list(horizons)})


def risk_cube(returns: xr.DataArray, levels: Sequence[float], horizons: Sequence[str], subject: str) -> xr.Dataset:
    """:func:`toolkit.analytics.risk.risk_summary` over ``level`` and ``horizon`` with
    ``annual_volatility`` and the seed's sentences ``var_commentary`` / ``cvar_commentary``."""
    out = risk.risk_summary(returns, list(levels), list(horizons))
    out["annual_volatility"] = out["volatility"] * _periods(list(horizons))
    out["var_commentary"] = risk.var_commentary(out["var"], subject)
    out["cvar_commentary"] = risk.cvar_commentary(out["cvar"], subject)
    return out


def exposures(returns: xr.DataArray, factors: xr.DataArray, dim: str) -> xr.Dataset:
    """Single-factor betas of every series (over ``dim``) on each factor: ``beta``, ``r_squared`` and
    ``count`` over ``(dim, factor)``, each fit on the dates the series and that factor both have
    (ordinary least squares with an intercept, the fit of :func:`toolkit.analytics.factors.regress`
    with one factor); NaN where they share fewer than 3 dates (``count`` 0 there) or the factor
    is constant on them.

    Every pair at once, in closed form over pairwise-complete dates (no loop over factors):
    ``beta = Sxy / Sxx`` and ``R^2 = 1 - max(Syy - beta Sxy, 0) / Syy``, with ``Sxy`` the sum of
    the products of the deviations from each pair's own means (two passes: means, then
    deviations). Agrees with ``regress`` per factor and with ``scipy.stats.linregress`` to 1e-12
    (tests/test_app_cache.py).

    Parameters
    ----------
    returns : xr.DataArray, (dim, time)
        Simple returns of the series.
    factors : xr.DataArray, (factor, time)
        Factor returns (a ``kind`` coordinate on ``factor`` is kept).

    Returns
    -------
    xr.Dataset
        ``beta``, ``r_squared`` (float) and ``count`` (int) over ``(dim, factor)``.
    """
    y, x = xr.align(returns, factors, join="inner", exclude={d for d in (*returns.dims, *factors.dims) if d != TIME})
    both = y.notnull() & x.notnull()  # (dim, factor, time)
    count = both.sum(TIME)
    ys, xs = y.where(both), x.where(both)
    dy, dx = ys - ys.mean(TIME), xs - xs.mean(TIME)
    sxx, sxy, syy = (dx * dx).sum(TIME), (dx * dy).sum(TIME), (dy * dy).sum(TIME)
    ok = (count >= 3) & (sxx > 0)
    beta = (sxy / sxx.where(ok)).where(ok)
    unexplained = (syy - beta * sxy).clip(min=0.0)  # a series on itself: 0, not -1e-19
    r_squared = (1.0 - unexplained / syy.where(syy > 0)).where(ok)
    out = xr.Dataset({"beta": beta, "r_squared": r_squared, "count": count.where(count >= 3, 0).astype(int)})
    out = out.drop_vars([c for c in out.coords if c not in (dim, fa.FACTOR) and c not in returns.coords])
    return out.transpose(dim, fa.FACTOR).assign_coords({"kind": factors["kind"]} if "kind" in factors.coords else {})


class Analytics:
    """Instrument, benchmark and portfolio analytics of the workspace's data (the module docstring).

    ``ws.analytics.instrument(["AAPL", "XOM"])``, ``ws.analytics.benchmark("AAPL", "SPX")`` and
    ``ws.analytics.portfolio({"AAPL": 0.6, "KO": 0.4})`` return typed results with ``to_dict()``
    (the seed's layout), ``to_xarray()`` and ``to_pandas()``. ``returns()`` and ``factors()`` give
    the arrays they work on, for the pure functions of :mod:`toolkit.analytics`.
    """

    def __init__(self, ctx: Context, *, instruments: Instruments, history: History) -> None:
        self._ctx = ctx
        self._instruments = instruments
        self._history = history
        self._factor_cache: tuple[tuple, xr.DataArray] | None = None

    # ------------------------------------------------------------------ data

    def returns(self, instruments: str | Sequence[str], *, start: str | None = None,
                end: str | None = None) -> xr.DataArray:
        """Daily simple returns over ``(instrument, time)`` of instruments of the workspace (ids,
        ISINs or symbols), labelled by symbol (by id where a symbol names two of them), with
        ``instrument_id``, ``symbol``, ``isin``, ``name``, ``currency`` and ``sector`` coordinates."""
        start, end = _window(start, end)
        return self._returns(self._ids(_as_list(instruments)), start, end)

    def factors(self, *, start: str | None = None, end: str | None = None) -> xr.DataArray:
        """The factor proxies over ``(factor, time)``: the market index, the five factor ETFs and
        the sector portfolios of the constituents, with a ``kind`` coordinate (``market``,
        ``style``, ``sector``). Proxies the workspace has no history for are left out. Read
        once, again after a history upload."""
        start, end = _window(start, end)
        key = PriceRepository(self._ctx.db).uploads_mark()
        if self._factor_cache is None or self._factor_cache[0] != key:
            self._factor_cache = (key, self._read_factors())
        return self._factor_cache[1].sel({TIME: slice(start, end)})

    def _read_factors(self) -> xr.DataArray:
        table = self._instruments.table()
        table = table[table["n_records"] > 0]
        styles = [s for s in (MARKET, *STYLES) if (table["symbol"] == s).any()]
        members = table[(table["source"] == CONSTITUENTS_SOURCE) & (table["instrument_type"] == "Stock")
                        & table["sector"].notna()].drop_duplicates("instrument_id")
        ids = self._ids(styles) + list(members["instrument_id"])
        if not ids:
            raise DataError("This workspace has no factor proxies (the market index SPX, the factor ETFs, or sector "
                            "constituents); load their history, or ask for the analytics without factors.")
        returns = simple_returns(self._history.prices(ids)["close"])
        parts, kinds = [], []
        if styles:
            parts.append(returns.isel({INSTRUMENT: slice(0, len(styles))}).assign_coords({INSTRUMENT: styles}))
            kinds += ["market" if s == MARKET else "style" for s in styles]
        if len(members):
            sectors = fa.sector_factors(returns.isel({INSTRUMENT: slice(len(styles), None)}))
            parts.append(sectors)
            kinds += ["sector"] * sectors.sizes[fa.FACTOR]
        return fa.factor_proxies(*parts).assign_coords(kind=(fa.FACTOR, kinds))

    def _ids(self, keys: list[str]) -> list[str]:
        """Instrument ids of ``keys`` (ids, ISINs, symbols), each series once, in request order;
        unknown keys raise :class:`NotFoundError` naming them."""
        if any(not isinstance(k, str) for k in keys):
            raise ValidationError([Problem("instruments", "name instruments by id, ISIN or symbol (text)")],
                                  "analytics request")
        return list(dict.fromkeys(self._each_id(keys)))

    def _returns(self, ids: list[str], start: str | None, end: str | None) -> xr.DataArray:
        """Daily returns of instruments ``ids`` labelled by symbol (remembered per data version:
        :func:`toolkit.store.cache.memo`)."""
        return memo(self._ctx.db).get(("analytics.returns", tuple(ids), start, end),
                                      lambda: self._read_returns(ids, start, end))

    def _read_returns(self, ids: list[str], start: str | None, end: str | None) -> xr.DataArray:
        close = self._history.prices(ids, start=start, end=end)["close"]
        if close.sizes[TIME] == 0:
            advice = "widen the window or load their history" if start else "load their history"  # no wider one
            raise DataError(f"No prices between {start or 'the first date'} and {end or 'the last date'} for "
                            f"{', '.join(map(str, close['symbol'].values))}; {advice}.")
        symbols = [str(s) for s in close["symbol"].values]
        labels = [s if symbols.count(s) == 1 else i for s, i in zip(symbols, ids)]
        coords = {c: (INSTRUMENT, close[c].values) for c in ("symbol", "isin", "name", "currency", "sector")}
        close = close.drop_vars([c for c in close.coords if c not in close.dims])
        out = simple_returns(close).assign_coords({INSTRUMENT: labels, "instrument_id": (INSTRUMENT, ids), **coords})
        return out.rename("returns")

    def _curves(self, curve: Curve | Sequence[Curve], start: str | None, end: str | None) -> xr.DataArray:
        """Daily returns of price curves given with the request (the history upload payload, a
        pandas Series or DataFrame of closes, or a DataArray over ``time`` / ``(instrument, time)``)."""
        many = isinstance(curve, (list, tuple))
        parts = [self._curve(c, f"curve[{n}]" if many else "curve") for n, c in enumerate(curve if many else [curve])]
        prices = xr.concat(parts, dim=INSTRUMENT, join="outer") if len(parts) > 1 else parts[0]
        labels = [str(x) for x in prices[INSTRUMENT].values]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ValidationError([Problem("curve", f"{', '.join(twice)} is given twice; name each curve once")],
                                  "price curve")
        validate_market(prices.to_dataset(name="close"))
        return simple_returns(prices).sel({TIME: slice(start, end)}).rename("returns")

    @staticmethod
    def _curve(curve: Curve, path: str) -> xr.DataArray:
        meta: dict[str, Any] = {"instrument_id": None, "isin": None, "currency": None, "sector": None}
        if isinstance(curve, Mapping):
            try:
                upload = parse_history(dict(curve))
            except ValidationError as exc:
                raise ValidationError([Problem(f"{path}.{p.path}" if p.path else path, p.message)
                                       for p in exc.problems], "price curve") from None
            if upload.timeframe != Timeframe.DAY:
                raise ValidationError([Problem(f"{path}.timeframe", "analytics need daily closes (timeframe 1)")],
                                      "price curve")
            label = upload.symbol or upload.name or upload.isin
            series = upload.frame["close"].rename(label)
            series.index = series.index.normalize()
            meta |= {"isin": upload.isin, "currency": upload.currency, "name": upload.name or label}
            curve = series
        if isinstance(curve, pd.Series):
            curve = curve.to_frame(curve.name if curve.name is not None else "curve")
        if isinstance(curve, pd.DataFrame):
            if not isinstance(curve.index, pd.DatetimeIndex):
                raise DataError(f"{path} needs dates as its index; it has {type(curve.index).__name__}.")
            curve = xr.DataArray(curve.to_numpy(dtype=float).T, dims=(INSTRUMENT, TIME),
                                 coords={INSTRUMENT: [str(c) for c in curve.columns], TIME: curve.index.to_numpy()})
        if not isinstance(curve, xr.DataArray) or TIME not in curve.dims or not set(curve.dims) <= {TIME, INSTRUMENT}:
            raise ValidationError([Problem(path, "expected a history upload payload, a pandas Series or DataFrame of "
                                                 "closes, or a DataArray over time or (instrument, time)")],
                                  "price curve")
        if INSTRUMENT not in curve.dims:
            curve = curve.expand_dims({INSTRUMENT: [str(curve.name) if curve.name is not None else "curve"]})
        labels = [str(x) for x in curve[INSTRUMENT].values]
        extra = {k: (INSTRUMENT, np.array([v] * len(labels), dtype=object)) for k, v in meta.items()
                 if k != "name"}
        names = np.array([meta.get("name") or x for x in labels], dtype=object)
        curve = curve.drop_vars([c for c in curve.coords if c not in curve.dims])
        return curve.assign_coords({INSTRUMENT: labels, "symbol": (INSTRUMENT, np.array(labels, dtype=object)),
                                    "name": (INSTRUMENT, names), **extra}).astype(float).transpose(INSTRUMENT, TIME)

    def _series(self, instruments: str | Sequence[str] | None, curve: Curve | Sequence[Curve] | None,
                start: str | None, end: str | None) -> xr.DataArray:
        start, end = _window(start, end)
        if instruments is None and curve is None:
            raise ValidationError([Problem("instruments", "name at least one instrument, or give a price curve")],
                                  "analytics request")
        parts = []
        if instruments is not None:
            parts.append(self._returns(self._ids(_as_list(instruments)), start, end))
        if curve is not None:
            parts.append(self._curves(curve, start, end))
        if len(parts) == 1:
            return parts[0]
        both = [str(x) for x in parts[0][INSTRUMENT].values if x in set(parts[1][INSTRUMENT].values)]
        if both:
            raise ValidationError([Problem("curve", f"{', '.join(both)} also names an instrument of the request; "
                                                    "give the curve another name")], "analytics request")
        return xr.concat(parts, dim=INSTRUMENT, join="outer", coords="different", compat="equals")

    # ------------------------------------------------------------------ shared parts

    def _shared(self, returns: xr.DataArray, dim: str, subject: str, levels: Sequence[float],
                horizons: Sequence[str], model: Sequence[str] | str, halflife: float, with_factors: bool,
                window: tuple[str | None, str | None]) -> dict:
        """risk, exposures, regression, expected returns and span of every series of ``returns``."""
        risk.require_data(returns)
        parts = {"dim": dim, "risk": risk_cube(returns, levels, horizons, subject), "span": _span(returns)}
        if not with_factors:
            expected = fa.expected_returns(returns, estimators=fa.ESTIMATORS[:2], halflife=halflife)
            return parts | {"exposures": None, "regression": None, "expected_returns": expected.transpose(dim, ...)}
        factors = self.factors(start=window[0], end=window[1])
        model = _as_list(model)
        expected = fa.expected_returns(returns, factors, names=model, halflife=halflife)
        return parts | {"exposures": exposures(returns, factors, dim),
                        "regression": fa.factor_summary(returns, factors, names=model),
                        "expected_returns": expected.transpose(dim, ...)}

    def _benchmark(self, returns: xr.DataArray, benchmark: str | Curve, dim: str, subject: str, level: float,
                   window: tuple[str | None, str | None]) -> BenchmarkAnalytics:
        if isinstance(benchmark, str):
            try:
                ids = self._ids([benchmark])
            except NotFoundError:
                raise NotFoundError(f"Unknown benchmark {benchmark!r}; name an instrument of the workspace by id, "
                                    "ISIN or symbol (e.g. 'SPX'), or pass its price curve.") from None
            bench = self._returns(ids, *window)
        else:
            bench = self._curves(benchmark, *window)
        if bench.sizes[INSTRUMENT] != 1:
            raise ValidationError([Problem("benchmark", "give one benchmark curve")], "benchmark request")
        label = str(bench[INSTRUMENT].values[0])
        x = bench.isel({INSTRUMENT: 0}, drop=True).rename(label)
        risk.tails(level)
        out = fa.benchmark_analytics(returns, x, level=float(level))
        y, x = xr.align(returns, x, join="inner", exclude={d for d in returns.dims if d != TIME})
        both = y.where(x.notnull())
        active = both - x
        tail = out["cvar"].assign_coords({HORIZON: "day"})
        out = out.assign(tracking_error=active.std(TIME, ddof=1) * math.sqrt(risk.PERIODS_PER_YEAR["day"]),
                         cvar_commentary=risk.cvar_commentary(tail, subject),
                         active_commentary=risk.cvar_commentary(out["active_cvar"].assign_coords({HORIZON: "day"}),
                                                                f"{subject} relative to {label}"))
        return BenchmarkAnalytics(dim, label, float(level), xr.merge([out, _span(both)], compat="override"))

    # ------------------------------------------------------------------ the three requests

    # ------------------------------------------------------------------ the document's requests

    def _by_code(self, code: str, apiid: int, path: str) -> str:
        """The instrument id of ``code`` and ``apiid`` (``Instruments.by_code``), or NotFoundError at ``path``."""
        return self._instruments.by_code(code, apiid, path=path)

    def _described(self, ids: list[str]) -> dict[str, dict]:
        return described(self._instruments.table(), ids)

    def _seed_instrument(self, query: object) -> InstrumentAnalytics:
        q = read(seed.InstrumentQuery, query, "instrument analytics query")
        iid = self._by_code(q.instrument_code, q.apiid, "instrument_code")
        return self.instrument([iid], start=_iso(q.start_date), end=_iso(q.end_date))

    def _seed_benchmark(self, query: object) -> BenchmarkAnalytics:
        q = read(seed.BenchmarkQuery, query, "benchmark analytics query")
        iid = self._by_code(q.instrument_code, q.apiid, "instrument_code")
        bench = self._by_code(q.benchmark_instrument_code, q.benchmark_apiid, "benchmark_instrument_code")
        return self.benchmark([iid], bench, start=_iso(q.start_date), end=_iso(q.end_date))

    # ------------------------------------------------------------------ the three requests

    def instrument(self, instruments: str | Sequence[str] | Mapping | None = None, *,
                   curve: Curve | Sequence[Curve] | None = None, start: str | None = None, end: str | None = None,
                   levels: Sequence[float] = risk.LEVELS, horizons: Sequence[str] = risk.HORIZON_NAMES,
                   model: Sequence[str] | str = MODEL, halflife: float = fa.HALFLIFE,
                   with_factors: bool = True) -> InstrumentAnalytics:
        """Analytics of instruments of the workspace and/or price curves, all in one vectorised call:
        historical VaR / CVaR at ``levels`` over ``horizons`` with commentary, volatility and
        average return per horizon, exposures to every factor proxy, the ``model`` regression
        (alpha, R^2, idiosyncratic risk) and expected returns by the four estimators (half-life
        ``halflife`` days). ``with_factors=False`` skips the factor parts (for a curve outside the
        proxies' dates). Too little history for a horizon, an instrument without data in the
        window, or an unknown instrument raise a :class:`toolkit.errors.ToolkitError` naming it.

        GET /history/analytics (``risk-platform-api.txt`` lines 1106-1110): ``instruments`` may be the
        document's query, ``{"instrument_code": "AAPL_XNGS", "apiid": "8"}`` (a dict of query-string
        texts, JSON values or JSON text; :class:`toolkit.contracts.risk.analytics.InstrumentQuery`)."""
        if _is_query(instruments):
            return self._seed_instrument(instruments)
        window = _window(start, end)
        returns = self._series(cast(str | Sequence[str] | None, instruments), curve, *window)
        parts = self._shared(returns, INSTRUMENT, "instrument", _as_list(levels), _as_list(horizons), model,
                             halflife, with_factors, window)
        return InstrumentAnalytics(**parts)

    def benchmark(self, instruments: str | Sequence[str] | Mapping | None = None, benchmark: str | Curve = MARKET, *,
                  curve: Curve | Sequence[Curve] | None = None, start: str | None = None, end: str | None = None,
                  level: float = 0.95) -> BenchmarkAnalytics:
        """One curve (instruments and/or price curves) against a ``benchmark`` (an instrument of the
        workspace, by default the market index, or a price curve), on the dates both have: annualised
        alpha, beta, R^2, idiosyncratic risk and tracking error, CVaR and active CVaR at ``level``
        (daily returns). An unknown benchmark raises :class:`toolkit.errors.NotFoundError`.

        GET /history/benchmark (lines 1237-1243): ``instruments`` may be the document's query
        (``instrument_code``, ``apiid``, ``benchmark_instrument_code``, ``benchmark_apiid``;
        :class:`toolkit.contracts.risk.analytics.BenchmarkQuery`)."""
        if _is_query(instruments):
            return self._seed_benchmark(instruments)
        window = _window(start, end)
        returns = self._series(cast(str | Sequence[str] | None, instruments), curve, *window)
        return self._benchmark(returns, benchmark, INSTRUMENT, "instrument", level, window)

    def portfolio(self, portfolio: PortfolioSpec, *, as_of: str | None = None, start: str | None = None,
                  end: str | None = None, level: float = 0.95, horizon: str = "day",
                  levels: Sequence[float] = risk.LEVELS, horizons: Sequence[str] = risk.HORIZON_NAMES,
                  model: Sequence[str] | str = MODEL, halflife: float = fa.HALFLIFE,
                  benchmark: str | Curve | None = None, with_factors: bool = True) -> PortfolioAnalytics:
        """Analytics of one or many portfolios in one vectorised call, from positions to weights
        (:meth:`weights`): the risk of each portfolio's returns (as :meth:`instrument`, subject
        "portfolio"), per-component risk, Euler contributions to annualised volatility and to CVaR
        at ``level`` over ``horizon`` returns (marginal, absolute, percent: they add up to the
        total), the diversification ratio with its rating, R^2, exposures, factor summary,
        expected returns, and with ``benchmark`` the benchmark analytics. Measured on the dates on
        which every held instrument has a return, within ``start`` .. ``end``.

        GET /portfolio/analytics (lines 1432-1437): ``portfolio`` may be the document's query,
        ``{"client_reference": ...}`` (:class:`toolkit.contracts.risk.analytics.PortfolioQuery`): the
        client reference of an uploaded portfolio, or the id of a PORTFOLIO account of the book."""
        if _is_query(portfolio, "client_reference"):
            q = read(seed.PortfolioQuery, portfolio, "portfolio analytics query")
            portfolio, start, end = q.client_reference, _iso(q.start_date), _iso(q.end_date)
        window = _window(start, end)
        problems = Problems()
        if horizon not in risk.PERIODS_PER_YEAR:
            problems.add("horizon", f"{horizon!r} is not one of {', '.join(risk.PERIODS_PER_YEAR)}")
        problems.raise_if_any("portfolio analytics request")
        risk.tails(level)
        weights, sources = self._weights(portfolio, as_of)
        returns = self._returns(list(weights["instrument_id"].values), *window)
        risk.require_data(returns)
        weights = weights.assign_coords({INSTRUMENT: returns[INSTRUMENT].values})
        common = returns.dropna(TIME, how="any")
        if common.sizes[TIME] == 0:
            advice = "widen the window or hold" if window[0] else "hold"  # the whole history is no wider window
            raise DataError("The instruments of these portfolios have no date with a return for every one of them "
                            f"in the window; {advice} instruments with overlapping histories.")
        levels = sorted({*map(float, _as_list(levels)), float(level)})
        horizons = list(dict.fromkeys([*_as_list(horizons), horizon]))
        series = weighted_returns(common, weights)
        parts = self._shared(series, PORTFOLIO, "portfolio", levels, horizons, model, halflife, with_factors, window)
        vol = volatility_contributions(common, weights, horizon=horizon, annualise=True,
                                       periods_per_year=risk.PERIODS_PER_YEAR[horizon])
        tail = cvar_contributions(common, weights, float(level), horizon=horizon)
        contributions = xr.merge([vol.rename({k: f"volatility_{k}" for k in vol.data_vars}),
                                  tail.rename({k: f"cvar_{k}" for k in tail.data_vars}).drop_vars(LEVEL)])
        held = (weights != 0).any(PORTFOLIO)
        parts_of = common.isel({INSTRUMENT: held.values})
        component_exposures = exposures(parts_of, self.factors(start=window[0], end=window[1]), INSTRUMENT) \
            if with_factors else None
        return PortfolioAnalytics(
            component_exposures=component_exposures, meta=self._described(list(weights["instrument_id"].values)),
            **parts, weights=weights, components=risk_cube(parts_of, levels, horizons, "instrument"),
            contributions=contributions, diversification=diversification_ratio(common, weights, horizon=horizon),
            level=float(level), horizon=horizon, sources=sources,
            benchmark=None if benchmark is None else self._benchmark(series, benchmark, PORTFOLIO, "portfolio",
                                                                     level, window))

    # ------------------------------------------------------------------ from positions to weights

    def weights(self, portfolio: PortfolioSpec, *, as_of: str | None = None) -> xr.DataArray:
        """Weights over ``(portfolio, instrument)`` of uploaded risk-platform portfolios (value weights
        of the positions open on ``as_of``, by default each portfolio's status date), PORTFOLIO
        accounts (value weights of their current holdings at the last close on or before ``as_of``),
        ``{instrument: weight}`` mappings (named by a mapping of them) or a weight DataArray over
        ``instrument`` (and ``portfolio``). Instruments are labelled as in :meth:`returns`."""
        return self._weights(portfolio, as_of)[0]

    def _weights(self, portfolio: PortfolioSpec, as_of: str | None) -> tuple[xr.DataArray, dict]:
        day = check_as_of(as_of)
        if isinstance(portfolio, xr.DataArray):
            return self._labelled(self._given_array(portfolio)), {}
        specs = self._specs(portfolio)
        problems = Problems()
        labels = [label for label, _ in specs]
        for label in sorted({x for x in labels if labels.count(x) > 1}):
            problems.add("portfolio", f"{label} is given twice")
        problems.raise_if_any("portfolio analytics request")
        rows: list[pd.DataFrame] = []
        sources: dict[str, dict] = {}
        named = [(label, spec) for label, spec in specs if isinstance(spec, str)]
        uploaded = set(RiskPortfolioRepository(self._ctx.db).portfolios([label for label, _ in named])["id"])
        risk_ids = [label for label, _ in named if label in uploaded]
        accounts = self._accounts([label for label, _ in named if label not in risk_ids])
        if risk_ids:
            rows.append(self._risk_positions(risk_ids, day, sources))
        if accounts:
            rows.append(self._account_positions(accounts, day, sources))
        long = self._valued(pd.concat(rows, ignore_index=True), sources) if rows else None
        mapped = [(label, spec) for label, spec in specs if not isinstance(spec, str)]
        if mapped:
            given = self._given_mappings(mapped)
            sources |= {label: {"source": "WEIGHTS"} for label, _ in mapped}
            long = given if long is None else pd.concat([long, given], ignore_index=True)
        table = cast(pd.DataFrame, long).pivot_table(index="portfolio", columns="instrument_id", values="weight",
                                                     aggfunc="sum", fill_value=0.0).reindex(labels)
        array = xr.DataArray(table.to_numpy(dtype=float), dims=(PORTFOLIO, INSTRUMENT),
                             coords={PORTFOLIO: labels, INSTRUMENT: list(table.columns)})
        return self._labelled(array), sources

    def _specs(self, portfolio: PortfolioSpec) -> list[tuple[str, str | Weights]]:
        if isinstance(portfolio, str):
            return [(portfolio, portfolio)]
        if isinstance(portfolio, Mapping):
            if portfolio and all(isinstance(v, Mapping) for v in portfolio.values()):
                return [(str(k), v) for k, v in portfolio.items()]
            return [("weights", portfolio)]
        if isinstance(portfolio, (list, tuple)) and portfolio:
            return [(item, item) if isinstance(item, str) else (f"weights[{n}]", item)
                    for n, item in enumerate(portfolio)]
        raise ValidationError([Problem("portfolio", "expected an uploaded portfolio id, a PORTFOLIO account id, an "
                                                    "{instrument: weight} mapping, a list of these, or a weight "
                                                    "DataArray")], "portfolio analytics request")

    def _accounts(self, ids: list[str]) -> list[str]:
        if not ids:
            return []
        found: set[str] = set(AccountRepository(self._ctx.db).ids("PORTFOLIO", ids))
        unknown = [i for i in ids if i not in found]
        if unknown:
            raise NotFoundError(f"No uploaded portfolio or PORTFOLIO account with id {', '.join(map(repr, unknown))}; "
                                "see ws.portfolios.list() and ws.accounts.list(type='PORTFOLIO').")
        return ids

    def _risk_positions(self, ids: list[str], day: str | None, sources: dict) -> pd.DataFrame:
        """Quantities of the positions open on ``day`` (each portfolio's default date when None)."""
        repo = RiskPortfolioRepository(self._ctx.db)
        positions = located(repo.positions(ids), self._instruments.table())
        missing = positions[positions["instrument_id"].isna()]
        if len(missing):
            first = missing.iloc[0]
            where = ", ".join(f"{r.instrument_code} apiid {r.apiid} (positions[{r.position}])"
                              for r in missing.itertuples())
            raise DataError(f"Portfolio {first['portfolio_id']} holds instruments without data: {where}; upload "
                            "their history with ws.history.upload() (PUT /history).")
        names = repo.portfolios(ids).set_index("id")["name"]
        empty = [i for i in ids if i not in set(positions["portfolio_id"])]
        if empty:
            raise DataError(f"Portfolio {empty[0]} has no positions; upload positions to analyse it.")
        when = (pd.Series(day, index=pd.Index(ids, name="portfolio_id"), dtype=object) if day
                else status_dates(positions))
        held = open_on(positions, when)
        idle = [i for i in ids if i not in set(held["portfolio_id"])]
        if idle:
            raise DataError(f"Portfolio {idle[0]} holds no open position on {when[idle[0]]}; choose an as_of within "
                            "its holding periods.")
        sources |= {i: {"source": "RISK_PLATFORM", "name": names.get(i), "asOf": when[i]} for i in ids}
        return pd.DataFrame({"portfolio": held["portfolio_id"], "instrument_id": held["instrument_id"],
                             "quantity": held["quantity"].astype(float), "as_of": held["portfolio_id"].map(when)})

    def _account_positions(self, ids: list[str], day: str | None, sources: dict) -> pd.DataFrame:
        """Current quantities of the accounts (the sum of their fills), valued on ``day``."""
        held = BookRepository(self._ctx.db).positions(ids)
        held["quantity"] = held["units"] / 1e10
        empty = [i for i in ids if i not in set(held["account_id"])]
        if empty:
            raise DataError(f"Account {empty[0]} holds no instruments yet; place an order before analysing it.")
        names = AccountRepository(self._ctx.db).column(ids, "name")
        sources |= {i: {"source": "ACCOUNT", "name": names.get(i), "asOf": day} for i in ids}
        return pd.DataFrame({"portfolio": held["account_id"], "instrument_id": held["instrument_id"],
                             "quantity": held["quantity"], "as_of": day})

    def _valued(self, rows: pd.DataFrame, sources: dict) -> pd.DataFrame:
        """Value weights ``q P / sum q P`` per portfolio, ``P`` the last close on or before its ``as_of``
        (by default the last close of the workspace, then noted as the portfolio's ``asOf``)."""
        ids = sorted(set(rows["instrument_id"]))
        close = self._history.prices(ids)["close"].to_series().dropna().rename("close").reset_index()
        close = close.rename(columns={INSTRUMENT: "instrument_id"}).sort_values(TIME)
        close["instrument_id"] = close["instrument_id"].astype(object)
        last = close[TIME].max()
        rows = rows.assign(instrument_id=rows["instrument_id"].astype(object),
                           when=pd.to_datetime(rows["as_of"].fillna(last.date().isoformat()))).sort_values("when")
        rows["when"] = rows["when"].astype(close[TIME].dtype)
        priced = pd.merge_asof(rows, close, left_on="when", right_on=TIME, by="instrument_id", direction="backward")
        unpriced = priced[priced["close"].isna()]
        if len(unpriced):
            raise DataError(f"Instrument {unpriced.iloc[0]['instrument_id']} has no close on or before "
                            f"{unpriced.iloc[0]['when'].date()} to value portfolio {unpriced.iloc[0]['portfolio']}; "
                            "choose a later as_of.")
        for label in set(priced.loc[priced["as_of"].isna(), "portfolio"]):
            sources[label]["asOf"] = last.date().isoformat()
        priced["value"] = priced["quantity"] * priced["close"]
        priced["weight"] = priced["value"] / priced.groupby("portfolio")["value"].transform("sum")
        return priced[["portfolio", "instrument_id", "weight"]]

    def _given_mappings(self, mapped: list[tuple[str, Weights]]) -> pd.DataFrame:
        problems, rows = Problems(), []
        for label, spec in mapped:
            if not isinstance(spec, Mapping) or not spec:
                problems.add(f"weights[{label}]", "expected a non-empty {instrument: weight} mapping")
                continue
            for key, value in spec.items():  # a number, or a decimal string as toolkit.validation reads it
                number = decimal_or_none(value.item() if isinstance(value, np.generic) else value, numbers=True)
                if number is None:
                    problems.add(f"weights[{label}][{key}]", f"{shown(value)} is not a weight such as 0.25 or \"0.25\"")
                rows.append((label, key, None if number is None else float(number)))
        problems.raise_if_any("portfolio analytics request")
        keys = list(dict.fromkeys(str(k) for _, k, _ in rows))
        lookup = dict(zip(keys, self._each_id(keys)))
        return pd.DataFrame([(label, lookup[str(k)], w) for label, k, w in rows],
                            columns=["portfolio", "instrument_id", "weight"])

    def _each_id(self, keys: list[str]) -> list[str]:
        """The id of each key, duplicates allowed (``AAPL`` and its ISIN name one series)."""
        ids = self._instruments.resolve(keys)
        return ids if len(ids) == len(keys) else [self._instruments.resolve([k])[0] for k in keys]

    def _given_array(self, weights: xr.DataArray) -> xr.DataArray:
        if INSTRUMENT not in weights.dims:
            raise ValidationError([Problem("weights", f"needs an {INSTRUMENT!r} dimension; it has "
                                                      f"{list(weights.dims)}")], "portfolio analytics request")
        if PORTFOLIO not in weights.dims:
            weights = weights.expand_dims({PORTFOLIO: ["weights"]})
        keys = [str(k) for k in weights[INSTRUMENT].values]
        ids = self._each_id(keys)
        weights = weights.drop_vars([c for c in weights.coords if c not in weights.dims])
        return weights.assign_coords({INSTRUMENT: ids}).groupby(INSTRUMENT).sum() if len(set(ids)) < len(ids) else \
            weights.assign_coords({INSTRUMENT: ids})

    def _labelled(self, weights: xr.DataArray) -> xr.DataArray:
        """Weights over instrument ids relabelled as :meth:`returns` labels them, with coordinates."""
        ids = [str(i) for i in weights[INSTRUMENT].values]
        table = self._instruments.table().drop_duplicates("instrument_id").set_index("instrument_id")
        symbols = [str(table.at[i, "symbol"]) for i in ids]
        labels = [s if symbols.count(s) == 1 else i for s, i in zip(symbols, ids)]
        return weights.assign_coords({INSTRUMENT: labels, "instrument_id": (INSTRUMENT, ids),
                                      "symbol": (INSTRUMENT, np.array(symbols, dtype=object))}).rename("weights")
