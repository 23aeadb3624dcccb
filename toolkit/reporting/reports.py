"""The performance reports: tables (``pandas.DataFrame``) and charts (plotly ``Figure``), and one HTML file.

Inputs are those of :mod:`toolkit.reporting.returns`: ``daily``, an ``xr.Dataset`` of one
portfolio's daily simple returns ``gross``, ``net`` and optionally ``benchmark`` over ``time``;
for the instrument reports (MA…) ``returns (instrument, time)``, NaN before an instrument's first
return. Periods are calendar periods labelled by their end; the first and last rows of a table
cover only the part inside ``[start, end]`` (incomplete periods, as in the interface).

Conventions: values are fractions (0.0123 = 1.23 %); linking is geometric,
``prod(1 + r) - 1``; relative figures are arithmetic, ``net - benchmark`` (Bacon 2008, ch. 4),
and shown in basis points; annualised figures are ``(1 + R)^(1 / years) - 1`` and NaN for
less than a year (GIPS 2020). Every table lists in ``attrs["bps"]`` the columns shown in basis
points and in ``attrs["title"]`` its title; :func:`to_html` honours both.
"""

from __future__ import annotations

import html
from datetime import date
from typing import TypeAlias

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr

from toolkit.analytics.returns import annualise, cumulate, index_values, link, relative, rolling, to_date
from toolkit.errors import Problems
from toolkit.reporting.charts import LAYOUT
from toolkit.reporting.formatting import bps, percent
from toolkit.schema import FIELD, INSTRUMENT, TIME

#: reporting frequency -> (resampling offset, pandas period of the row labels)
FREQUENCIES = {"monthly": ("ME", "M"), "quarterly": ("QE", "Q"), "yearly": ("YE", "Y")}
#: the columns of the portfolio tables, in order
COLUMNS = ("gross", "net", "benchmark", "relative")
DAYS_PER_YEAR = 365.25

Day: TypeAlias = date | str | pd.Timestamp | None


def _sliced(x: xr.DataArray | xr.Dataset, start: Day, end: Day):
    """``x`` on the days ``start <= t <= end`` (either bound optional; dates taken whole)."""
    upper = None if end is None else pd.Timestamp(end).normalize() + pd.Timedelta(days=1) - pd.Timedelta(1)
    return x.sel({TIME: slice(None if start is None else pd.Timestamp(start), upper)})


def _portfolio(daily: xr.Dataset, start: Day = None, end: Day = None) -> xr.DataArray:
    """``gross``, ``net`` (and ``benchmark``) stacked along ``field``, sliced to the period."""
    problems = Problems()
    for name in ("gross", "net"):
        if name not in daily:
            problems.add(f"daily.{name}", f"the daily returns need a {name!r} variable")
    problems.raise_if_any("report input")
    names = [n for n in ("gross", "net", "benchmark") if n in daily]
    period = _sliced(daily[names].to_dataarray(FIELD), start, end)
    if not period.sizes[TIME]:
        problems.add("startDate", f"the period {start or '…'} to {end or '…'} holds no trading day; "
                                  "choose a longer one")
        problems.raise_if_any("report period")
    return period


def _table(values: xr.DataArray, index: list, title: str) -> pd.DataFrame:
    """A (row, field) array as a table with gross, net, benchmark and the relative column."""
    frame = pd.DataFrame(values.transpose(..., FIELD).values, index=index,
                         columns=[str(f) for f in values[FIELD].values])
    if "benchmark" in frame:
        frame["relative"] = relative(values.sel({FIELD: "net"}), values.sel({FIELD: "benchmark"})).values
    frame.attrs = {"title": title, "bps": ["relative"] if "relative" in frame else []}
    return frame


def performance_overview(daily: xr.Dataset, frequency: str = "monthly", start: Day = None,
                         end: Day = None) -> pd.DataFrame:
    """PO001: the portfolio's returns per month, quarter or year, and year to date.

    One row per calendar period touched by ``[start, end]`` (default: all the data), labelled
    ``2021-03`` / ``2021Q1`` / ``2021``, with the linked ``gross``, ``net``, ``benchmark`` returns
    of the days inside the period and ``relative = net - benchmark``; a last row ``YTD`` links
    the days from 1 January of ``end``'s year (or the first data day) to ``end``.
    """
    if frequency not in FREQUENCIES:
        problems = Problems()
        problems.add("frequency", f"{frequency!r} is not one of {', '.join(FREQUENCIES)}")
        problems.raise_if_any("report request")
    offset, period = FREQUENCIES[frequency]
    returns = _portfolio(daily, start, end)
    periods = cumulate(returns, offset)
    labels = [str(p) for p in periods.indexes[TIME].to_period(period)]
    as_of = returns.indexes[TIME].max() if end is None else pd.Timestamp(end)
    ytd = to_date(_portfolio(daily, None, as_of), as_of, "YTD").expand_dims({TIME: [as_of]})
    table = _table(xr.concat([periods, ytd], TIME), [*labels, "YTD"],
                   f"PO001 Performance overview ({frequency}, YTD as of {as_of.date()})")
    table.index.name = "period"
    return table


def _month_end(as_of: pd.Timestamp) -> pd.Timestamp:
    """The last calendar ultimo on or before ``as_of``."""
    return (as_of.normalize() + pd.Timedelta(days=1)).to_period("M").start_time - pd.Timedelta(days=1)


def rolling_performance(daily: xr.Dataset, as_of: Day = None, years: tuple[int, ...] = (1, 3, 5, 10),
                        inception: Day = None) -> pd.DataFrame:
    """PO005: trailing returns over 1, 3, 5, 10 years (annualised) and since inception, per return type.

    The windows end at the last calendar ultimo on or before ``as_of`` (default: the last data
    day, so an incomplete last month is left out) and hold whole calendar months:
    :func:`toolkit.analytics.returns.rolling` over ``years * 12`` monthly returns,
    ``(1 + R)^(1/years) - 1``; NaN where the history is shorter. ``inception`` (BOD; default the
    first data day) starts the history: its month counts only if inception is its 1st.
    ``ITD p.a.`` links every day from inception to the window end and annualises over
    ``calendar days / 365.25`` (NaN under a year, GIPS).
    """
    returns = _portfolio(daily)
    last = _month_end(returns.indexes[TIME].max() if as_of is None else pd.Timestamp(as_of))
    begin = returns.indexes[TIME].min() if inception is None else pd.Timestamp(inception)
    first_month = (begin - pd.Timedelta(days=1)).to_period("M").end_time.normalize() + pd.Timedelta(days=1)
    monthly = cumulate(_sliced(returns, first_month, last), "ME")
    rows = [rolling(monthly, n, 12).isel({TIME: -1}, drop=True) for n in years]
    span = ((last - begin).days + 1) / DAYS_PER_YEAR
    rows.append(annualise(link(_sliced(returns, begin, last)), span))
    labels = [f"{n}Y" if n == 1 else f"{n}Y p.a." for n in years] + ["ITD p.a."]
    table = _table(xr.concat(rows, "window"), labels, f"PO005 Rolling performance as of {last.date()}")
    table.index.name = "window"
    return table


def _index_lines(returns: xr.DataArray, dim: str, start: Day, end: Day, title: str) -> go.Figure:
    """One line per label on ``dim``: the index at EOD of each day, 100 at BOD of the first day.

    The first point (100) is drawn at the day before the first return (EOD of that day = BOD of
    the start); an instrument that starts later starts at 100 on its own first day.
    """
    period = _sliced(returns, start, end)
    times = period.indexes[TIME]
    begun = period.notnull().cumsum(TIME) > 0
    index = index_values(period, 100.0).where(begun).transpose(dim, TIME)
    eve = (times.min() if start is None else pd.Timestamp(start)) - pd.Timedelta(days=1)
    x = [eve.strftime("%Y-%m-%d"), *times.strftime("%Y-%m-%d")]
    base = np.where(begun.isel({TIME: 0}).transpose(dim).values, 100.0, np.nan)
    values = index.values
    traces = []
    for i, label in enumerate(index[dim].values):  # one trace per line drawn
        y = np.concatenate([[base[i]], values[i]])
        if np.isnan(base[i]):  # starts later: 100 on the day before its first return
            first = int(np.argmax(~np.isnan(values[i])))
            y[first] = 100.0
        traces.append(go.Scatter(x=x, y=y, mode="lines", name=str(label),
                                 hovertemplate="%{y:.2f}<extra>%{fullData.name}</extra>"))
    layout = {**LAYOUT, "title": title, "yaxis": {"title": "index, 100 at the start"}}
    return go.Figure(data=traces, layout=layout)


def cumulative_chart(daily: xr.Dataset, start: Day = None, end: Day = None) -> go.Figure:
    """PO003: the cumulated performance of the portfolio (gross, net) against its benchmark.

    Index lines ``100 * prod(1 + r)``, 100 at BOD of ``start`` (drawn on the day before), one
    point at EOD of every trading day; hover shows each line's index.
    """
    returns = _portfolio(daily)
    return _index_lines(returns, FIELD, start, end, "PO003 Cumulated performance (index, 100 at the start)")


def _instruments(returns: xr.DataArray) -> None:
    problems = Problems()
    if not isinstance(returns, xr.DataArray) or {INSTRUMENT, TIME} - set(returns.dims):
        problems.add("returns", "expected instrument returns as an xarray DataArray (instrument, time)")
    problems.raise_if_any("report input")


def instrument_table(returns: xr.DataArray, as_of: Day = None) -> pd.DataFrame:
    """MA001: each instrument's MTD, QTD, YTD, 1Y, 3Y p.a. and ITD return as of ``as_of``.

    To-date windows start on the 1st of ``as_of``'s month / quarter / year (or at the first
    return) and end at EOD of ``as_of`` (default: the last data day). ``1Y`` and ``3Y p.a.`` link
    the days after the same calendar date 1 and 3 years earlier (``3Y p.a.`` annualised over 3
    years); NaN where an instrument's first return comes after the window's start. ``ITD`` is
    cumulative since the instrument's first return.
    """
    _instruments(returns)
    last = returns.indexes[TIME].max() if as_of is None else pd.Timestamp(as_of)
    upto = _sliced(returns, None, last)
    columns = {kind: to_date(upto, last, kind) for kind in ("MTD", "QTD", "YTD")}
    for n, name in ((1, "1Y"), (3, "3Y p.a.")):
        first_day = last - pd.DateOffset(years=n) + pd.Timedelta(days=1)
        covered = _sliced(upto, None, first_day).notnull().any(TIME)  # a return on or before the first day
        total = link(_sliced(upto, first_day, None)).where(covered)
        columns[name] = total if n == 1 else annualise(total, n)
    columns["ITD"] = to_date(upto, last, "ITD")
    frame = pd.DataFrame({name: value.transpose(INSTRUMENT).values for name, value in columns.items()},
                         index=pd.Index(upto[INSTRUMENT].values, name=INSTRUMENT))
    frame.attrs = {"title": f"MA001 Instrument returns as of {last.date()}", "bps": []}
    return frame


def calendar_year_returns(returns: xr.DataArray, start: Day = None, end: Day = None) -> pd.DataFrame:
    """MA003: each instrument's return per calendar year of ``[start, end]`` (columns are years).

    The first and last years cover only the days inside the period (or since the instrument's
    first return); NaN for a year without any return of the instrument.
    """
    _instruments(returns)
    yearly = cumulate(_sliced(returns, start, end), "YE")
    frame = pd.DataFrame(yearly.transpose(INSTRUMENT, TIME).values, index=pd.Index(yearly[INSTRUMENT].values,
                         name=INSTRUMENT), columns=pd.Index(yearly.indexes[TIME].year, name="year"))
    frame.attrs = {"title": "MA003 Calendar-year returns", "bps": []}
    return frame


def instrument_chart(returns: xr.DataArray, start: Day = None, end: Day = None) -> go.Figure:
    """MA004: cumulated returns of every instrument as index lines, 100 at BOD of ``start``."""
    _instruments(returns)
    return _index_lines(returns, INSTRUMENT, start, end, "MA004 Cumulated instrument returns (index, 100 at the start)")


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 2em}th,td{padding:3px 10px;border-bottom:1px solid #ddd}
td{text-align:right;font-variant-numeric:tabular-nums}"""


def _formatted(table: pd.DataFrame) -> pd.DataFrame:
    shown_bps = set(table.attrs.get("bps", []))
    return pd.DataFrame({column: bps(table[column]) if column in shown_bps else percent(table[column])
                         for column in table.columns}, index=table.index)


def to_html(reports: dict[str, pd.DataFrame | go.Figure], title: str) -> str:
    """One static, self-contained HTML page of the reports, in the order given.

    Tables are shown as percent with two decimals, the columns named in ``attrs["bps"]`` as
    basis points; NaN as an en dash. plotly.js is inlined once, with the first figure
    (``include_plotlyjs=True``); the page loads nothing from the network, so it works offline.
    """
    parts, inlined = [], False
    for key, report in reports.items():
        if isinstance(report, pd.DataFrame):
            heading = report.attrs.get("title", key)
        else:
            heading = getattr(getattr(getattr(report, "layout", None), "title", None), "text", None) or key
        parts.append(f"<section id=\"{html.escape(str(key))}\"><h2>{html.escape(str(heading))}</h2>")
        if isinstance(report, go.Figure):
            parts.append(report.to_html(full_html=False, include_plotlyjs=not inlined,
                                        config={"displaylogo": False, "responsive": True}))
            inlined = True
        elif isinstance(report, pd.DataFrame):
            parts.append(_formatted(report).to_html(classes="tk-report-table", border=0))
        else:
            problems = Problems()
            problems.add(f"reports.{key}", f"expected a DataFrame or a plotly Figure, got {type(report).__name__}")
            problems.raise_if_any("report export")
        parts.append("</section>")
    head = f"<meta charset=\"utf-8\"><title>{html.escape(title)}</title><style>{_STYLE}</style>"
    body = "\n".join(parts)
    return f"<!DOCTYPE html>\n<html><head>{head}</head>\n<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
