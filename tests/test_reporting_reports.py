"""The reports (PO001, PO003, PO005, MA001, MA003, MA004), the HTML export and the display formats.

Table values are checked against the interface response for the same period and against
independent computations (pandas resampling, empyrical-reloaded, numpy by hand).
"""

from __future__ import annotations

import re

import empyrical
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from test_reporting_interface import (
    MASTER,
    daily_frame,
    instrument_daily,
    instrument_frame,
    linked,
    portfolio_daily,
    request,
)

from toolkit.errors import ValidationError
from toolkit.reporting import reports
from toolkit.reporting.formatting import bps, percent
from toolkit.reporting.returns import instrument_returns, portfolio_returns

START, END = "2020-08-12", "2022-05-17"


@pytest.fixture(scope="module")
def response() -> dict:
    return portfolio_returns(portfolio_daily(), MASTER, request(START, END, benchmark=True))


# --------------------------------------------------------------------------- PO001


@pytest.mark.parametrize(("frequency", "entries", "label"), [("monthly", "months", "month"),
                                                              ("yearly", "years", "year")])
def test_po001_rows_agree_with_the_interface(response: dict, frequency: str, entries: str, label: str) -> None:
    table = reports.performance_overview(portfolio_daily(), frequency, START, END)
    rows = table.drop(index="YTD")
    assert list(rows.index) == [str(e[label]) for e in response[entries]]
    for column, key in (("gross", "grossReturn"), ("net", "netReturn"), ("benchmark", "bmReturn")):
        np.testing.assert_allclose(rows[column], [e[key] for e in response[entries]], rtol=0, atol=1e-13)
    np.testing.assert_allclose(rows["relative"], [e["netReturn"] - e["bmReturn"] for e in response[entries]],
                               atol=1e-13)
    assert table.attrs["bps"] == ["relative"] and table.attrs["title"].startswith("PO001")


def test_po001_quarters_and_ytd_agree_with_pandas_and_empyrical() -> None:
    table = reports.performance_overview(portfolio_daily(), "quarterly", START, END)
    frame = daily_frame()
    quarters = frame.loc[START:END].resample("QE").apply(linked)
    assert list(table.index[:-1]) == [str(q) for q in quarters.index.to_period("Q")]
    np.testing.assert_allclose(table.iloc[:-1][["gross", "net", "benchmark"]], quarters, atol=1e-13)
    ytd = empyrical.cum_returns_final(frame.loc["2022-01-01":END])
    np.testing.assert_allclose(table.loc["YTD", ["gross", "net", "benchmark"]].astype(float), ytd, atol=1e-13)
    with pytest.raises(ValidationError) as info:
        reports.performance_overview(portfolio_daily(), "weekly")
    assert info.value.paths == ["frequency"]


# --------------------------------------------------------------------------- PO005


def test_po005_trailing_returns_agree_with_numpy_by_hand() -> None:
    table = reports.rolling_performance(portfolio_daily())  # data end 2022-12-28: as of 2022-11-30
    frame = daily_frame()
    # inception 1990-01-03 is not a 1st: January 1990 is not a whole month of history
    monthly = frame.loc["1990-02-01":"2022-11-30"].resample("ME").apply(linked)
    for n, row in ((1, "1Y"), (3, "3Y p.a."), (5, "5Y p.a."), (10, "10Y p.a.")):
        expected = (1 + monthly.iloc[-12 * n:]).prod() ** (1 / n) - 1
        np.testing.assert_allclose(table.loc[row, ["gross", "net", "benchmark"]].astype(float), expected, rtol=1e-10)
    years = ((pd.Timestamp("2022-11-30") - pd.Timestamp("1990-01-03")).days + 1) / 365.25
    itd = (1 + empyrical.cum_returns_final(frame.loc[:"2022-11-30"])) ** (1 / years) - 1
    np.testing.assert_allclose(table.loc["ITD p.a.", ["gross", "net", "benchmark"]].astype(float), itd, rtol=1e-10)
    np.testing.assert_allclose(table["relative"], table["net"] - table["benchmark"], atol=1e-15)
    assert table.attrs["title"] == "PO005 Rolling performance as of 2022-11-30"


def test_po005_is_nan_where_the_history_is_too_short() -> None:
    short = portfolio_daily().sel(time=slice("2019-03-01", None))
    table = reports.rolling_performance(short, as_of="2022-06-30")
    assert table.loc[["5Y p.a.", "10Y p.a."]].isna().all().all()
    assert table.loc[["1Y", "3Y p.a.", "ITD p.a."]].notna().all().all()
    young = reports.rolling_performance(portfolio_daily().sel(time=slice("2022-02-01", None)))
    assert young.isna().all().all()  # under a year: nothing is annualised (GIPS)


# --------------------------------------------------------------------------- PO003 / MA004


def test_po003_index_lines_start_at_100_and_end_at_the_linked_return() -> None:
    figure = reports.cumulative_chart(portfolio_daily(), START, END)
    frame = daily_frame().loc[START:END]
    assert [t.name for t in figure.data] == ["gross", "net", "benchmark"]
    for trace in figure.data:
        assert trace.x[0] == "2020-08-11" and trace.y[0] == 100.0  # EOD of the day before = BOD of the start
        assert trace.x[-1] == "2022-05-17"
        assert trace.y[-1] == pytest.approx(100 * (1 + empyrical.cum_returns_final(frame[trace.name])), rel=1e-12)
        assert "%{y:.2f}" in trace.hovertemplate
    assert figure.layout.hovermode == "x unified"


def test_ma004_an_instrument_that_starts_later_starts_at_100() -> None:
    figure = reports.instrument_chart(instrument_daily(), "2013-12-02", "2014-03-31")
    lines = {t.name: t for t in figure.data}
    assert set(lines) == {"AAPL", "MSFT", "PG", "MTUM", "USMV"}
    assert lines["AAPL"].y[0] == 100.0
    mtum = lines["MTUM"]
    first = list(mtum.x).index("2014-01-02")  # the day before MTUM's first return (2014-01-03)
    assert np.isnan(mtum.y[first - 1]) and mtum.y[first] == 100.0
    expected = 100 * (1 + empyrical.cum_returns_final(instrument_frame().loc["2014-01-03":"2014-03-31", "MTUM"]))
    assert mtum.y[-1] == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- MA001 / MA003


def test_ma001_agrees_with_pandas_windows() -> None:
    table = reports.instrument_table(instrument_daily(), as_of="2016-06-30")
    frame = instrument_frame().loc[:"2016-06-30"]

    def window(first: str) -> pd.Series:
        return frame.loc[first:].apply(lambda c: linked(c.dropna()))

    np.testing.assert_allclose(table["MTD"], window("2016-06-01"), atol=1e-13)
    np.testing.assert_allclose(table["QTD"], window("2016-04-01"), atol=1e-13)
    np.testing.assert_allclose(table["YTD"], window("2016-01-01"), atol=1e-13)
    np.testing.assert_allclose(table["1Y"], window("2015-07-01"), atol=1e-13)
    three = (1 + window("2013-07-01")) ** (1 / 3) - 1
    np.testing.assert_allclose(table.loc[["AAPL", "MSFT", "PG"], "3Y p.a."], three[["AAPL", "MSFT", "PG"]],
                               rtol=1e-12)
    assert table.loc[["MTUM", "USMV"], "3Y p.a."].isna().all()  # first return 2014-01-03: history too short
    itd = frame.apply(lambda c: empyrical.cum_returns_final(c.dropna()))
    np.testing.assert_allclose(table["ITD"], itd, rtol=1e-10)
    assert list(table.columns) == ["MTD", "QTD", "YTD", "1Y", "3Y p.a.", "ITD"]


def test_ma003_calendar_years_agree_with_the_interface_and_empyrical() -> None:
    start, end = "2014-01-03", "2016-09-30"
    table = reports.calendar_year_returns(instrument_daily(), start, end)
    ids = list(table.index)
    answer = instrument_returns(instrument_daily(), {"instrumentIds": ids, "startDate": start, "endDate": end})
    for block in answer["instruments"]:
        row = table.loc[block["instrumentId"]]
        assert list(row.index) == [y["year"] for y in block["years"]]
        np.testing.assert_allclose(row, [y["return"] for y in block["years"]], atol=1e-13)
    frame = instrument_frame().loc[start:end]
    yearly = frame.apply(lambda c: empyrical.aggregate_returns(c, "yearly"))
    np.testing.assert_allclose(table.T, yearly, atol=1e-13)
    assert np.isnan(reports.calendar_year_returns(instrument_daily(), "2012-01-01", end).loc["MTUM", 2012])


def test_instrument_reports_refuse_other_inputs() -> None:
    with pytest.raises(ValidationError) as info:
        reports.instrument_table(portfolio_daily()["gross"])
    assert info.value.paths == ["returns"]


# --------------------------------------------------------------------------- HTML


def test_html_is_self_contained_and_formats_the_tables() -> None:
    figures = {"PO003": reports.cumulative_chart(portfolio_daily(), START, END),
               "MA004": reports.instrument_chart(instrument_daily(), "2021-01-01", "2021-12-31")}
    page = reports.to_html({"PO001": reports.performance_overview(portfolio_daily(), "yearly", START, END),
                            "PO005": reports.rolling_performance(portfolio_daily().sel(time=slice("2019-03-01", None))),
                            **figures, "MA001": reports.instrument_table(instrument_daily())}, "Demo <report>")
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page)
    assert not [t for t in tags if re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", t)]
    assert page.count("<script") >= 3 and page.count("Plotly.newPlot") == 2
    assert len(re.findall(r"plotly\.js v\d", page)) == 1  # plotly.js inlined once
    assert "<title>Demo &lt;report&gt;</title>" in page
    table = reports.performance_overview(portfolio_daily(), "yearly", START, END)
    assert f"<td>{percent(table.loc['2021', 'gross'])}</td>" in page
    assert f"<td>{bps(table.loc['2021', 'relative'])}</td>" in page and " bp</td>" in page
    assert "<td>\u2013</td>" in page  # the 5Y and 10Y figures of a 2019 portfolio
    with pytest.raises(ValidationError):
        reports.to_html({"bad": [1, 2]}, "x")


def test_a_figure_without_data_still_exports() -> None:
    page = reports.to_html({"empty": go.Figure()}, "Empty")
    assert "Plotly.newPlot" in page


# --------------------------------------------------------------------------- formatting


def test_percent_and_bps_of_scalars() -> None:
    assert percent(0.01234) == "1.23%" and percent(-0.5) == "-50.00%" and percent(0.01234, 1) == "1.2%"
    assert bps(0.01234) == "123 bp" and bps(-0.000049) == "0 bp" and bps(0.00015, 1) == "1.5 bp"
    assert percent(-0.00001) == "0.00%"  # no negative zero
    assert percent(float("nan")) == "\u2013" and bps(None) == "\u2013" and percent(float("inf")) == "\u2013"
    assert percent(np.float32(0.5)) == "50.00%" and percent(1) == "100.00%"
    with pytest.raises(ValueError):
        percent(0.1, decimals=-1)


def test_percent_and_bps_keep_the_shape_of_arrays_and_frames() -> None:
    out = percent(np.array([[0.1, np.nan], [0.002, -0.3]]))
    assert out.shape == (2, 2) and out.tolist() == [["10.00%", "\u2013"], ["0.20%", "-30.00%"]]
    assert bps([0.001, 0.0102]).tolist() == ["10 bp", "102 bp"]
    frame = pd.DataFrame({"a": [0.1, np.nan]}, index=["x", "y"])
    assert percent(frame).equals(pd.DataFrame({"a": ["10.00%", "\u2013"]}, index=["x", "y"]))
    assert bps(pd.Series([0.0001], index=["z"])).to_dict() == {"z": "1 bp"}


def test_reports_take_dask_backed_returns() -> None:
    lazy, lazy_instruments = portfolio_daily().chunk({"time": 1000}), instrument_daily().chunk({"time": 1000})
    pd.testing.assert_frame_equal(reports.performance_overview(lazy, "quarterly", START, END),
                                  reports.performance_overview(portfolio_daily(), "quarterly", START, END))
    pd.testing.assert_frame_equal(reports.rolling_performance(lazy), reports.rolling_performance(portfolio_daily()),
                                  rtol=1e-12)
    pd.testing.assert_frame_equal(reports.instrument_table(lazy_instruments, "2016-06-30"),
                                  reports.instrument_table(instrument_daily(), "2016-06-30"), rtol=1e-12)
