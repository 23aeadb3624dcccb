"""Analytics of the risk platform (``risk-platform-api.txt``): GET /history/analytics (lines
1106-1236), GET /history/benchmark (1237-1243) and GET /portfolio/analytics (1432-1803), with the
risk blocks the optimisation answer shares (lines 1313-1359).

The queries are read from a query string's texts (``apiid=8`` is ``"8"``) or from JSON values.
The toolkit adds ``start_date`` and ``end_date`` (ISO dates, both optional) to bound the sample.

**Signs and words, as the document writes them.** VaR and CVaR are returns: a loss is negative
(``"value": -0.0710``, "There is a 2.5% chance that the instrument will lose more than 7.1% over one
week", line 1114), keyed by confidence level (``"0.975"``, ``"0.9"``, ``"0.95"``) then horizon
(``day``, ``week``, ``month``); volatility is positive, per horizon, not annualised. Percentages in
the sentences are rounded to two decimals with trailing zeros dropped ("7.1%", "3.73%", "2.0%"), as
the document's do. The ratings of the diversification ratio and R-squared are ``low`` (red),
``medium`` (yellow) or ``high`` (green) (line 1795: ``"color": "yellow"``, "The diversification
ratio is medium.").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core import ValidationError as CoreValidationError

from toolkit.contracts.base import Contract, IsoDate, Name
from toolkit.contracts.risk.common import InstrumentCode, QueryApiId

#: the document's horizons, in its order (line 1115: week, month, day)
HORIZON_ORDER = ("week", "month", "day")
#: the confidence levels of the document's VaR and CVaR, in its order (lines 1113, 1125, 1137)
LEVEL_ORDER = ("0.975", "0.9", "0.95")
#: a rating's colour
COLORS = {"low": "red", "medium": "yellow", "high": "green"}
#: R-squared bands: (lower bound, rating), ascending
R_SQUARED_BANDS = ((0.0, "low"), (0.5, "medium"), (0.8, "high"))
_ADJECTIVES = {"day": "daily", "week": "weekly", "month": "monthly"}


#: a problem found inside a validator: its location, its message and the value at fault
Found = tuple[tuple[str | int, ...], str, object]


def refuse(model: str, found: Sequence[Found]) -> None:
    """Raise every ``(location, message, input)`` of ``found`` at once, from inside a validator, so
    that each is named by its own field path (``rules[0].parameters[1].value``)."""
    if found:
        raise CoreValidationError.from_exception_data(model, [
            InitErrorDetails(type=PydanticCustomError("toolkit", "{message}", {"message": message}), loc=loc,
                             input=value) for loc, message, value in found])


# =========================================================================== sentences


def percent(x: float) -> str:
    """``x`` (a fraction) as the document prints a percentage: two decimals at most, ``"7.1%"``."""
    return f"{round(100 * x, 2)}%"


def var_sentence(value: float, level: float, horizon: str, subject: str) -> str:
    """Line 1117: "There is a 2.5% chance that the instrument will lose more than 7.1% over one week"."""
    move = f"lose more than {percent(-value)}" if value <= 0 else f"gain less than {percent(value)}"
    return f"There is a {percent(1 - level)} chance that the {subject} will {move} over one {horizon}"


def cvar_sentence(value: float, level: float, horizon: str, subject: str) -> str:
    """Line 1154: "The expected average loss of the instrument for the 2.5% worst scenarios over one
    week is 9.81%." (a gain on average reads as a negative loss)."""
    return (f"The expected average loss of the {subject} for the {percent(1 - level)} worst scenarios over one "
            f"{horizon} is {percent(-value)}.")


def volatility_sentence(value: float, horizon: str, subject: str) -> str:
    """Line 1190: "The weekly volatility of the instrument is 3.96%"."""
    return f"The {_ADJECTIVES[horizon]} volatility of the {subject} is {percent(value)}"


def contribution_sentence(value: float, subject: str = "instrument") -> str:
    """Line 1581: "The marginal contribution to the total volatility of the instrument is 15.97%."."""
    return f"The marginal contribution to the total volatility of the {subject} is {percent(value)}."


# =========================================================================== shared blocks


def _number(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


class Horizons(Contract):
    """A value per horizon (lines 1203-1207): ``week``, ``month``, ``day``."""

    week: float | None
    month: float | None
    day: float | None

    @classmethod
    def of(cls, values: Mapping[str, float | None]) -> Horizons:
        return cls(**{h: _number(values.get(h)) for h in HORIZON_ORDER})


class Measure(Contract):
    """A value with its sentence (lines 1115-1118)."""

    value: float | None
    commentary: str


class HorizonMeasures(Contract):
    """A measure per horizon (lines 1114-1124)."""

    week: Measure
    month: Measure
    day: Measure


class RiskMeasures(Contract):
    """``var`` and ``cvar`` by level then horizon, and ``volatility`` by horizon (lines 1112-1200)."""

    var: dict[str, HorizonMeasures]
    cvar: dict[str, HorizonMeasures]
    volatility: HorizonMeasures

    @classmethod
    def of(cls, var: dict[str, dict[str, float]], cvar: dict[str, dict[str, float]],
           volatility: dict[str, float], subject: str) -> RiskMeasures:
        """From plain numbers: ``var[level][horizon]`` and ``cvar[level][horizon]`` as returns (a loss
        negative), ``volatility[horizon]``, with the sentences about ``subject``."""
        def tail(values: dict[str, dict[str, float]], sentence) -> dict[str, HorizonMeasures]:
            return {level: HorizonMeasures(**{h: Measure(value=_number(v.get(h)), commentary=sentence(
                v[h], float(level), h, subject) if _number(v.get(h)) is not None else "") for h in HORIZON_ORDER})
                for level, v in values.items()}

        vol = HorizonMeasures(**{h: Measure(value=_number(volatility.get(h)), commentary=volatility_sentence(
            volatility[h], h, subject) if _number(volatility.get(h)) is not None else "") for h in HORIZON_ORDER})
        return cls(var=tail(var, var_sentence), cvar=tail(cvar, cvar_sentence), volatility=vol)


class Exposure(Contract):
    """A factor exposure (lines 1202-1213): the beta on a factor proxy. ``factor_type``: the
    document's ``geographic`` and ``sector``, and the toolkit's ``market`` and ``style`` proxies."""

    beta: float | None
    factor_focus: str
    factor_type: Literal["geographic", "sector", "market", "style"]
    factor_name: str


class ExpectedReturns(Contract):
    """Expected returns by estimator (lines 1214-1234)."""

    equally_weighted_factor_model: Horizons
    exponentially_weighted_factor_model: Horizons
    exponentially_weighted_sample: Horizons
    equally_weighted_sample: Horizons


class Regression(Contract):
    """The factor model's fit (lines 1240-1247): per-horizon idiosyncratic risk, R-squared, alpha."""

    idiosyncratic_risk: Horizons
    r_squared: float | None
    alpha: float | None


# =========================================================================== instrument and benchmark


class Window(Contract):
    """The toolkit's optional sample bounds, ``start_date`` <= ``end_date`` (ISO dates)."""

    start_date: IsoDate | None = None
    end_date: IsoDate | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start_date and self.end_date and self.start_date > self.end_date:
            refuse(type(self).__name__, [(("end_date",), f"{self.end_date} is before start_date {self.start_date}",
                                          self.end_date.isoformat())])
        return self


class InstrumentQuery(Window):
    """GET /history/analytics (lines 1108-1109): ``instrument_code`` and ``apiid``."""

    instrument_code: InstrumentCode
    apiid: QueryApiId


class InstrumentAnalytics(Contract):
    """GET /history/analytics's answer (lines 1110-1236)."""

    risk: RiskMeasures
    exposure: list[Exposure]
    expected_returns: ExpectedReturns
    average_returns: Horizons
    regression: Regression


class BenchmarkQuery(InstrumentQuery):
    """GET /history/benchmark (lines 1239-1242): the instrument and the benchmark, each by code and apiid."""

    benchmark_instrument_code: InstrumentCode
    benchmark_apiid: QueryApiId


class BenchmarkAnalytics(Contract):
    """GET /history/benchmark's answer (line 1243): ``alpha`` (annualised), ``beta``, ``cvar`` (of the
    instrument's daily returns at 95 %, as a return: a loss negative) and ``idiosyncratic_risk``
    (annualised) of the instrument against the benchmark, on the dates both have; the toolkit adds
    ``r_squared`` and ``tracking_error`` (annualised)."""

    alpha: float | None
    beta: float | None
    cvar: float | None
    idiosyncratic_risk: float | None
    r_squared: float | None = None
    tracking_error: float | None = None


# =========================================================================== portfolio


class PortfolioQuery(Window):
    """GET /portfolio/analytics (line 1436): the portfolio's ``client_reference``."""

    client_reference: Name


class Contribution(Contract):
    """``marginal_contribution_to_risk`` of a component (lines 1578-1583)."""

    volatility: Measure


class ComponentRisk(RiskMeasures):
    """A component's risk (lines 1577-1694)."""

    marginal_contribution_to_risk: Contribution


class PortfolioRisk(RiskMeasures):
    """The portfolio's risk (lines 1438-1534); ``marginal_contribution_to_risk`` is ``{}`` at
    portfolio level, as the document shows."""

    marginal_contribution_to_risk: dict = Field(default_factory=dict)


class ComponentInstrument(Contract):
    """A component's instrument (lines 1565-1576) with its ``weight`` in the portfolio."""

    symbol: str | None
    country: str | None
    instrument_code: str
    mic: str | None
    name: str | None
    weight: float
    exchange: str | None
    currency: str | None
    type: str | None
    apiid: int


class Component(Contract):
    """A component of GET /portfolio/analytics (lines 1550-1700)."""

    exposure: list[Exposure]
    instrument: ComponentInstrument
    risk: ComponentRisk
    expected_returns: Horizons


class FactorSummary(Contract):
    """The summed beta per factor type (lines 1785-1792)."""

    factor_type: str
    beta: float | None


class Rated(Contract):
    """A rated figure (lines 1793-1802): ``color``, ``value``, ``commentary``."""

    color: Literal["red", "yellow", "green", "grey"]
    value: float | None
    commentary: str

    @classmethod
    def of(cls, value: float | None, rating: str, what: str) -> Rated:
        """``rating`` ("low", "medium", "high"; "" unknown) of ``value``, "The {what} is {rating}."."""
        value = _number(value)
        if value is None or rating not in COLORS:
            return cls(color="grey", value=value, commentary=f"The {what} could not be computed.")
        return cls(color=COLORS[rating], value=value, commentary=f"The {what} is {rating}.")


def r_squared_rating(value: float | None) -> str:
    """The band of an R-squared in :data:`R_SQUARED_BANDS` ("" for none)."""
    value = _number(value)
    if value is None:
        return ""
    return [name for bound, name in R_SQUARED_BANDS if value >= bound][-1] if value >= 0 else "low"


class PortfolioAnalytics(Contract):
    """GET /portfolio/analytics's answer (lines 1437-1803)."""

    risk: PortfolioRisk
    exposure: list[Exposure]
    components: list[Component]
    expected_returns: Horizons
    factor_summary: list[FactorSummary]
    diversification_ratio: Rated
    r_squared: Rated
