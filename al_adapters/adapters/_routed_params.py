"""The parameters of an adapter: its own named ones plus routed ones.

:class:`RoutedParams` is public as ``al_adapters.adapters.base.RoutedParams``.
"""

import inspect

__all__ = ["RoutedParams"]


class RoutedParams:
    """``get_params`` / ``set_params`` of an adapter with routed parameters.

    Put it before ``BaseEstimator`` in the bases. The adapter's own parameters
    are the named ones of its ``__init__``, stored as attributes; its
    ``__init__`` hands the rest, the keywords routed to the framework object
    it builds, to ``self._routed_params = kwargs``. Both kinds are parameters:
    ``get_params`` returns them together, ``set_params`` stores each where it
    belongs, and ``clone`` passes the routed ones back through ``**kwargs``.
    Nested ``<param>__<name>`` keys are never expanded into a sub-estimator's
    parameters: they are routed parameters (``module__*``, ``model__*``...).

    ``_routes_any_name`` says which new names ``set_params`` routes: every one
    (True, the default: the framework takes plain names such as skorch's
    ``lr``), or only ``prefix__name`` ones (False), other unknown names raising
    a ValueError.
    """

    _routes_any_name = True
    _routed_params: dict

    def get_params(self, deep: bool = True) -> dict:
        """Return the parameters, the routed ones included.

        Parameters
        ----------
        deep : bool, default=True
            Ignored: an estimator given as a parameter is one parameter, and
            ``<param>__<name>`` keys are routed, not nested ones.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        named = {name: getattr(self, name) for name in self._param_names()}
        return {**named, **self._routed_params}

    def set_params(self, **params):
        """Set parameters: the adapter's own as attributes, the rest for routing.

        Parameters
        ----------
        **params
            Parameter names and their new values.

        Returns
        -------
        self : estimator
            The estimator. An unknown name raises a ValueError, and nothing is
            set.
        """
        named = self._param_names()
        routed = {k: v for k, v in params.items() if k not in named}
        unknown = [
            k
            for k in routed
            if not (self._routes_any_name or "__" in k or k in self._routed_params)
        ]
        if unknown:
            raise ValueError(
                f"Invalid parameter {unknown[0]!r} for estimator "
                f"{type(self).__name__}. Valid parameters are: "
                f"{sorted(self.get_params())!r}; routed ones are named prefix__name"
            )
        for name in named:
            if name in params:
                setattr(self, name, params[name])
        self._routed_params.update(routed)
        return self

    @classmethod
    def _param_names(cls) -> list[str]:
        """Return the names of the named parameters of ``__init__``, sorted."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        return sorted(
            p.name
            for p in parameters
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    @classmethod
    def _defaults(cls) -> dict:
        """Return the default of each named parameter of ``__init__``."""
        signature = inspect.signature(cls.__init__)
        return {
            name: p.default
            for name, p in signature.parameters.items()
            if p.default is not inspect.Parameter.empty
        }
