"""Adapters that give neural-network frameworks one scikit-learn classifier contract.

Each adapter is a leaf module that imports its framework at the top; nothing in
the core imports them. Reach them as ``al_adapters.TorchAdapter``,
``al_adapters.KerasAdapter`` and ``al_adapters.LightningAdapter``.
"""
