"""Task-agnostic pieces of the ``explain`` mode: the shared explain loop, gradients on demand, layer
lookup, targets, pictures.

Every task explains through :func:`torchworks.attribution.explainer.explain_rows`, supplying only
what is its own (how it predicts, reads a target, attributes and shows the result), and builds those
pieces from the rest so that none of them repeats how a model is put into gradient mode, how a layer
is found by name, how a class target is chosen, or how an attribution map is drawn.
"""
