"""scikeras-style parameters: named ones plus routed ``prefix__name`` ones.

scikeras routes ``model__*``, ``optimizer__*``, ``fit__*``... parameters to
where they belong; they are not in any ``__init__`` signature, so
``get_params``, ``set_params`` and ``clone`` need to see them as stored
attributes.
"""

import inspect
from typing import Any


class RoutedParamsMixin:
    """Parameters of ``__init__`` plus every public attribute set from ``**kwargs``.

    Nested ``<param>__<name>`` keys are *not* expanded into a sub-estimator's
    parameters: they are routed parameters, as in scikeras.
    """

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Return the parameters, routed ``prefix__name`` ones included.

        Parameters
        ----------
        deep : bool, default=True
            Ignored: a ``KerasClassifier`` passed as ``model`` is one parameter,
            and ``model__*`` names are routed to the build function.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=False)  # type: ignore[misc]
        params.update(
            (k, v)
            for k, v in vars(self).items()
            if k not in params and not k.startswith("_") and not k.endswith("_")
        )
        return params

    def set_params(self, **params: Any) -> Any:
        """Set parameters; ``prefix__name`` ones are stored for routing.

        Parameters
        ----------
        **params
            Parameter names and their new values.

        Returns
        -------
        self : estimator
            The estimator.
        """
        named = {k: v for k, v in params.items() if "__" not in k}
        super().set_params(**named)  # type: ignore[misc]
        self.__dict__.update((k, v) for k, v in params.items() if "__" in k)
        return self

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        """Return the default of each named parameter of ``__init__``."""
        signature = inspect.signature(cls.__init__)
        return {
            name: p.default
            for name, p in signature.parameters.items()
            if p.default is not inspect.Parameter.empty
        }
