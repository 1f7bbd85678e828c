"""Task-agnostic pieces of the ``explain`` mode: gradients on demand, layer lookup, targets, pictures.

Tasks build their explanations (``tasks/<task>/explaining.py``) from these so that none of them
repeats how a model is put into gradient mode, how a layer is found by name, how a class target is
chosen, or how an attribution map is drawn.
"""
