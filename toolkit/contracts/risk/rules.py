"""The risk platform's rule table (GET /rules, ``risk-platform-api.txt`` lines 651-991), as data.

The 21 rules are the document's, with their ids, categories, names, descriptions and parameters
(key, name, description and default value as the document writes them, values as text). Three
parameters the toolkit adds to its portfolio rules are listed after the document's, marked
"Toolkit extension" in their description (:data:`EXTENSIONS`): the covariance estimator, the CVaR
confidence level of rule 12 and the risk-free rate of rule 16, and the ATR period of rule 19.

:data:`SPECS` says what value each parameter key takes, from the rule descriptions: a percentage
is written as the document writes it (``"5"`` is 5 %, "A value of 10 equates to 10%", line 866),
``Percentage`` is 0.1 to 20 (line 681), ``ATRFactor`` at least 1 (line 694), ``RewardRatio`` at
least 0.5 (line 739), the lookback ``Period`` of rule 8 from 7 to 500 (line 772), ``Timeframe`` 0 to
4 (line 799), ``Method`` one of SMA, EMA, Smoothed (line 762), ``IncludeStopLimit`` ``"true"`` or
``"false"``, ``Benchmark`` a portfolio's client reference or null (line 985).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

#: the category of the portfolio (optimisation) rules; the others are tactical (order) rules
PORTFOLIO = 9


@dataclass(frozen=True)
class Parameter:
    """One parameter of a rule: its ``key``, ``name``, ``description`` and default ``value`` (text)."""

    key: str
    name: str
    description: str
    value: str | None


@dataclass(frozen=True)
class Spec:
    """What a parameter's value may be: ``kind`` "number" (within ``low``..``high``), "whole",
    "flag" ("true"/"false"), "choice" (one of ``choices``) or "reference" (a client reference or null)."""

    kind: str
    low: Decimal | None = None
    high: Decimal | None = None
    choices: tuple[str, ...] = ()
    below_high: bool = False  # the upper bound itself is excluded

    def bounds(self) -> str:
        if self.low is not None and self.high is not None:
            return f"from {self.low} to {'below ' if self.below_high else ''}{self.high}"
        return f"at least {self.low}" if self.low is not None else f"at most {self.high}"


@dataclass(frozen=True)
class Rule:
    """A rule of the table: ``rule_id``, ``category_id``, ``category``, ``title`` (its name without the
    parameter values), ``description`` and ``parameters``; ``name_for`` gives its name with values."""

    rule_id: int
    category_id: int
    category: str
    title: str
    description: str
    parameters: tuple[Parameter, ...]

    @property
    def portfolio(self) -> bool:
        return self.category_id == PORTFOLIO

    @property
    def seed_keys(self) -> tuple[str, ...]:
        """The keys of the document's parameters (the rule's name shows their values)."""
        return tuple(p.key for p in self.parameters if not p.description.startswith("Toolkit extension"))

    def name_for(self, values: Mapping[str, str | None]) -> str:
        """The rule's name with its parameter values, as the document writes it: "Portfolio - Risk
        Parity (false, 5)", "Portfolio - Min Tracking Error (false, 5, null)", "Backtest Over 200 Candles"."""
        shown = ["null" if values.get(k) is None else str(values[k]) for k in self.seed_keys]
        if "{}" in self.title:
            return self.title.format(*shown)
        return f"{self.title} ({', '.join(shown)})" if shown else self.title

    @property
    def name(self) -> str:
        """The name with the default values (GET /rules)."""
        return self.name_for({p.key: p.value for p in self.parameters})


_WHOLE = Spec("whole", Decimal(2), Decimal(500))
SPECS: dict[str, Spec] = {
    "Percentage": Spec("number", Decimal("0.1"), Decimal(20)),
    "ATRFactor": Spec("number", Decimal(1)),
    "Period": _WHOLE,
    "RSIUpLimit": Spec("number", Decimal(0), Decimal(100)),
    "RSIDownLimit": Spec("number", Decimal(0), Decimal(100)),
    "RewardRatio": Spec("number", Decimal("0.5")),
    "Method": Spec("choice", choices=("SMA", "EMA", "Smoothed")),
    "Timeframe": Spec("whole", Decimal(0), Decimal(4)),
    "IncludeStopLimit": Spec("flag"),
    "RebalanceTrigger": Spec("number", Decimal(0), Decimal(100)),
    "Benchmark": Spec("reference"),
    "Covariance": Spec("choice", choices=("sample", "ledoit_wolf")),
    "ConfidenceLevel": Spec("number", Decimal("0.5"), Decimal(1), below_high=True),
    "RiskFreeRate": Spec("number", Decimal(-50), Decimal(100), below_high=True),
}
#: parameters whose range depends on the rule: (rule_id, key) -> spec
RULE_SPECS: dict[tuple[int, str], Spec] = {(8, "Period"): Spec("whole", Decimal(7), Decimal(500)),
                                           (19, "Period"): Spec("whole", Decimal(2), Decimal(250))}


def spec(rule_id: int, key: str) -> Spec:
    """The value spec of ``key`` in rule ``rule_id``."""
    return RULE_SPECS.get((rule_id, key), SPECS[key])


_COVARIANCE = Parameter("Covariance", "Covariance Estimator",
                        "Toolkit extension: the covariance estimator, sample (ddof = 1) or ledoit_wolf (Ledoit & "
                        "Wolf 2004 shrinkage). Default is sample.", "sample")
#: the toolkit's parameters of its portfolio rules, after the document's: rule_id -> parameters
EXTENSIONS: dict[int, tuple[Parameter, ...]] = {
    12: (Parameter("ConfidenceLevel", "CVaR Confidence Level",
                   "Toolkit extension: the confidence level of the CVaR minimised, in (0.5, 1). Default is 0.95.",
                   "0.95"),),
    15: (_COVARIANCE,),
    16: (_COVARIANCE, Parameter("RiskFreeRate", "Risk Free Rate",
                                "Toolkit extension: the annual risk-free rate in percent. A value of 2 corresponds "
                                "to 2%. Default is 0.", "0")),
    18: (_COVARIANCE,),
    19: (Parameter("Period", "Lookback Period",
                   "Toolkit extension: number of candles of Wilder's average true range. Default is 14.", "14"),),
    20: (_COVARIANCE,),
}

# parameters the document repeats word for word in several rules
_PERCENTAGE = Parameter('Percentage', 'Percentage at Risk',
                        ('The maximum percentage of capital on any given order. A value of 2 corresponds to 2%. The '
                         'value must be >= 0.1 and <= 20'),
                        '5')
_STOP_LIMIT = Parameter('IncludeStopLimit', 'Include Stop/Limit',
                        ('If true, the tactical risk management also manages the stops and limits of each orders. '
                         'Default is false.'),
                        'false')
_TRIGGER = Parameter('RebalanceTrigger', 'Size Rebalance Trigger',
                     ('Triggers a rebalance if the size of a component is x% different to its target size. A value '
                      'of 10 equates to 10%.'),
                     '5')
#: the parameters of every portfolio rule
_PORTFOLIO = (_STOP_LIMIT, _TRIGGER)

_SEED: tuple[Rule, ...] = (
    Rule(1, 1, 'Level', 'Level - Distance to Market Price',
         ("This rule ensures the order's entry price is not so far out that the trade is unlikely to execute "
          'within the given timeframe. This allows your capital to be put to better use on orders which are more '
          'likely to execute.\nThis also prevents orders to be placed so far ahead that the context of the '
          'market conditions when the order execute are completely different from the market conditions when the '
          "order was placed.\nThis rule will default the order's entry level to the existing market price if no "
          'level is provided.'),
         ()),
    Rule(2, 4, 'Size', 'Size - Capital at Risk (5)',
         ('Ensures the order size is set such that the total risk taken on a single position does not exceed a '
          'given percentage of your funds.\n\nFunds are defined as the total value of your brokerage account '
          'prior to and excluding any open position.\n\nThis rule will default the size of the order to the '
          'given percentage if no size has been specified.\n\nImportant Note: the size provided is effectively '
          'the risk taken on a position as a percentage of the account value. This may lead to sizes that are '
          'larger than the funds available on the account. This is valid if you are using leveraged instruments '
          '(e.g. CFDs) but not if you are buying the stock outright. If this is an issue, consider using the '
          'Size - Capital Invested rule instead.\n\nParameters\n- Percentage at Risk: specify the maximum '
          'percentage of your funds which should be at risk on any given order. A value of 2 corresponds to 2%. '
          'The value must be >= 0.1 and <= 20.'),
         (
        _PERCENTAGE,
         )),
    Rule(3, 2, 'Stop', 'Stop - ATR Based (1, 40)',
         ('Ensures the order is not stopped out due to volatility (as opposed to a genuine market movement). '
          'Validates that the stop is placed further than a minimum distance from the entry level. The distance '
          'is calculated as a factor of the ATR value on that day.\nIf no stop has been specified. This rule '
          'will default the stop to the given ATR factor.\n\nParameters\n- ATR Factor: number of ATRs to use to '
          'set the stop. This value can only be >= 1.'),
         (
        Parameter('ATRFactor', 'ATR Factor',
                  'Number of ATRs to use to set the stop. This value must be >= 1',
                  '1'),
        Parameter('Period', 'Lookback Period',
                  'Number of candles of backward history on which to perform the analysis',
                  '40'),
         )),
    Rule(4, 0, 'Type', 'Direction - Not Overextended (30, 70)',
         ('At its core, this rule validates that the order is not placed when a stock is overextended '
          '(overbought in the case of a Long, oversold in the case of a short). The rule relies on the RSI '
          'indicator as its key metric and look at historical pricing data to determine statistically relevant '
          'levels for the RSI including whether it is a reliable indicator or not. This rule also provides '
          'contextual information on historical RSI levels at which the price has changed direction.'),
         (
        Parameter('RSIUpLimit', 'RSI Upper Limit',
                  'RSI value above which it would be unwise to place a long order',
                  '30'),
        Parameter('RSIDownLimit', 'RSI Lower Limit',
                  'RSI value below which it would be unwise to place a short order',
                  '70'),
         )),
    Rule(5, 3, 'Limit', 'Limit - At Resistance',
         ('Ensures the limit of an order is set close to the closest resistance level for the instrument under '
          'consideration. The price of the instrument is likely to reverse at this level. \n\nThis rule defaults '
          'the limit of the order to the closest resistance level when no limit has been specified on the '
          'order.\n\nThis rule also provides contextual information around the minor and major resistance levels '
          'seen for this particular instrument.'),
         ()),
    Rule(6, 5, 'Generic', 'Risk Reward Ratio (1)',
         ('Ensures that the risk reward ratio of the order is above a given threshold. We suggest this is '
          'included in any risk management strategy.\n\nParameters\n- Reward: defaulted to 1. Can be any value '
          '>= 0.5'),
         (
        Parameter('RewardRatio', 'Minimum Risk Reward Ratio',
                  'Proportion of reward given risk taken. Any value >= 0.5',
                  '1'),
         )),
    Rule(7, 0, 'Type', 'Direction - Follow The Supertrend (3, 10, SMA)',
         ("Validate that the order's direction is aligned to the SuperTrend indicator i.e. a long order is not "
          'placed when the SuperTrend is indicating a down trend.'),
         (
        Parameter('ATRFactor', 'ATR Factor',
                  'Number of ATRs to use to set the stop. This value must be >= 1',
                  '3'),
        Parameter('Period', 'Lookback Period',
                  'Number of candles of backward history on which to perform the analysis',
                  '10'),
        Parameter('Method', 'Method',
                  ("SMA (Simple Moving Average), EMA (Exponential Moving Average) or Smoothed (Wilder's "
                   'Smoothing Method)'),
                  'SMA'),
         )),
    Rule(8, 5, 'Generic', 'Backtest Over 200 Candles',
         ('Performs a statistical analysis of the order based on the last n candles and taking into account the '
          'chosen risk management strategy. Provides an indication of probability of sucess and duration of the '
          'trade.\n\nParameters\n- Lookback Period: number of candles of backward history on which to perform '
          'the analysis. Can be any value between 7 and 500 inclusive.'),
         (
        Parameter('Period', 'Lookback Period',
                  'Number of candles of backward history on which to perform the analysis',
                  '200'),
         )),
    Rule(9, 0, 'Type', 'Direction - No Short',
         ('Markets have a tendency to go up. Corrections are generally short in duration and therefore harder to '
          'trade. This rule computes the time the selected instrument spent going up versus down and prevents '
          'you from entering a Short if the market has an upward bias.'),
         ()),
    Rule(10, 2, 'Stop', 'Stop - At Support',
         ('Ensures the stop is beyond the closest support level. Support levels tend to act as magnet for a '
          "stock's price. There is a higher chance of being unduly stopped out if a stop loss is placed before a "
          'support level.'),
         ()),
    Rule(11, 5, 'Generic', 'Minimum Timeframe (4)',
         ("A trader's style might not work on all timeframes. This rule ensures a trader does not trade on "
          'timeframes which are too small for his style.'),
         (
        Parameter('Timeframe', 'Timeframe',
                  'Timeframe as an integer: 0 (week), 1 (day), 2 (2 hours), 3 (1 hour), 4 (15 minutes)',
                  '4'),
         )),
    Rule(12, 9, 'Portfolio', 'Portfolio - Min Risk (CVaR) (false, 5)',
         ('Conditional Value-at-Risk (CVaR) optimization is a risk management technique used to minimize the '
          'potential for large losses in a portfolio of investments.'),
         _PORTFOLIO),
    Rule(13, 4, 'Size', 'Size - Capital Invested (5)',
         ('Ensures the order size is set such that the value invested does not exceed a given percentage of the '
          'funds.\n\nFunds are defined as the total value of your brokerage account prior to and excluding any '
          'open position.\n\nValue invested is equal to the stock price multiplied by the size.\n\nThis rule '
          'should be used when the instrument is bought outright. See the "Size - Capital at Risk" rule if you '
          'are trading leveraged instruments and / or only care about the value at risk'),
         (
        _PERCENTAGE,
         )),
    Rule(14, 9, 'Portfolio', 'Portfolio - Equal Weight (false, 5)',
         'Allocates the same proportion of funds to each instrument in the portfolio',
         _PORTFOLIO),
    Rule(15, 9, 'Portfolio', 'Portfolio - Diversified Min Risk (false, 5)',
         'Maximize the diversification of a portfolio by selecting assets with low risk correlations',
         _PORTFOLIO),
    Rule(16, 9, 'Portfolio', 'Portfolio - Max Sharpe (false, 5)',
         'Maximization of Sharpe ratio, highest expected excess rate of return relative to the amount of risk',
         _PORTFOLIO),
    Rule(17, 9, 'Portfolio', 'Portfolio - Volatility (false, 5)',
         ('The constituent weights are proportional to their volatility, meaning that an instrument with a '
          'higher volatility will also have a higher weight in the portfolio. The main difference between ATR '
          'and Volatility is that ATR considers the true prive range (daily highs / lows) whereas Volatility '
          'operates based on closing prices.'),
         _PORTFOLIO),
    Rule(18, 9, 'Portfolio', 'Portfolio - Risk Parity (false, 5)',
         ('Risk parity optimization is an investment strategy that allocates assets based on their risk '
          'contributions rather than their expected returns. This means that assets with higher volatilities '
          'will receive lower allocations than assets with lower volatilities. This can help to reduce the '
          'overall risk of the portfolio while still maintaining the potential for high returns. Empirically, '
          "risk parity portfolios have often shown higher Sharpe ratios, but it's not the primary goal of a risk "
          'parity optimization.'),
         _PORTFOLIO),
    Rule(19, 9, 'Portfolio', 'Portfolio - ATR (false, 5)',
         ('The constituent weights are proportional to their Average True Range (ATR), meaning that an '
          'instrument with a higher ATR will also have a higher weight in the portfolio. The main difference '
          'between ATR and Volatility is that ATR considers the true prive range (daily highs / lows) whereas '
          'Volatility operates based on closing prices.'),
         _PORTFOLIO),
    Rule(20, 9, 'Portfolio', 'Portfolio - Max Diversification (false, 5)',
         'Maximizes the diversification of the portfolio according to Choueifaty and Coignard',
         _PORTFOLIO),
    Rule(21, 9, 'Portfolio', 'Portfolio - Min Tracking Error (false, 5, null)',
         'Minimizes the tracking error between this portfolio and a benchmark portfolio',
         (
        _STOP_LIMIT,
        _TRIGGER,
        Parameter('Benchmark', 'Benchmark (Portfolio)',
                  'Client reference to the portfolio to use as a benchmark.',
                  None),
         )),)


def _titled(rule: Rule) -> Rule:
    """The seed's rule with its title (the name without values) and the toolkit's extra parameters."""
    title = rule.title
    if rule.rule_id == 8:
        title = "Backtest Over {} Candles"
    elif rule.parameters:
        title = title.rsplit(" (", 1)[0]
    return Rule(rule.rule_id, rule.category_id, rule.category, title, rule.description,
                rule.parameters + EXTENSIONS.get(rule.rule_id, ()))


#: the rules by ``rule_id``
RULES: dict[int, Rule] = {r.rule_id: _titled(r) for r in _SEED}
