"""The seeds' request and response models, one module per seed document.

- :mod:`toolkit.contracts.brokerage`: the brokerage's model-portfolio API;
- :mod:`toolkit.contracts.risk`: the risk platform's API;
- :mod:`toolkit.contracts.performance`: the performance-reporting interface.

:mod:`toolkit.contracts.base` holds what they share (:func:`~toolkit.contracts.base.read`).
This package sits on the lowest floor: it imports :mod:`toolkit.validation` and
:mod:`toolkit.errors` only.
"""

from toolkit.contracts.base import Contract, path_of, payload_of, problems_of, read

__all__ = ["Contract", "path_of", "payload_of", "problems_of", "read"]
