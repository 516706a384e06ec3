"""The one place that relies on how skorch trains: ``partial_fit`` without its catch.

skorch's ``NeuralNet.partial_fit`` is ``notify("on_train_begin")``,
``fit_loop``, ``notify("on_train_end")``, with a ``KeyboardInterrupt`` raised in
``fit_loop`` caught and dropped, so Ctrl-C would end training quietly with a
half-trained model. :func:`train` runs the same three steps and lets the
interrupt through (after ``on_train_end``, as skorch would have called it).
``tests/adapters/test_torch_shim.py`` checks that skorch's ``partial_fit`` still
runs exactly these steps.
"""

import inspect

_ROUTED = (
    "_routing_method"
    in inspect.signature(__import__("skorch").NeuralNet.fit_loop).parameters
)


def train(net, X, y, epochs=None, **fit_params):
    """Run skorch's ``partial_fit`` on an initialised net, letting interrupts out."""
    if _ROUTED:
        fit_params["_routing_method"] = "partial_fit"
    net.notify("on_train_begin", X=X, y=y)
    try:
        net.fit_loop(X, y, epochs=epochs, **fit_params)
    except KeyboardInterrupt:
        net.notify("on_train_end", X=X, y=y)
        raise
    net.notify("on_train_end", X=X, y=y)
    return net
