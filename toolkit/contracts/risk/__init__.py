"""The risk platform's contracts (``risk-platform-api.txt``), one module per part of the document.

- :mod:`toolkit.contracts.risk.common`: identifiers (instrument codes ``SYMBOL_MIC``, ``apiid``,
  ISO 10383 MICs, ISINs, currencies), the instrument object, timeframe ids, query-string readers;
- :mod:`toolkit.contracts.risk.history`: GET /user, GET /api, GET and PUT /history,
  GET /history/instrument, POST /history/coverage;
- :mod:`toolkit.contracts.risk.portfolio`: PUT, GET and DELETE /portfolio, GET /constraints/*;
- :mod:`toolkit.contracts.risk.strategy`, :mod:`~toolkit.contracts.risk.analytics`,
  :mod:`~toolkit.contracts.risk.attribution`: rules, strategies, analytics, attribution;
- :mod:`toolkit.contracts.risk.tactical`: the tactical rules' ``tactical_analysis`` on a book of orders.

Import the submodules directly (``from toolkit.contracts.risk.portfolio import PortfolioUpload``).
"""
