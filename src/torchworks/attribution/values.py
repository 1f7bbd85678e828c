"""Settings in, JSON out: the class an explanation is about, a classifier's prediction, numeric options,
rounded attributions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torchworks.attribution.explainer import Target
from torchworks.errors import ConfigError, did_you_mean


def class_target(target: str | None, labels: Sequence[str], predicted: int) -> Target:
    """The index and name of the class to explain: ``target`` by name, else the predicted class.

    Raises:
        ConfigError: ``target`` is not one of the model's classes.
    """
    if target is None or target == "":
        return Target(predicted, labels[predicted])
    return class_named(target, labels)


def class_named(target: str, labels: Sequence[str]) -> Target:
    """The index and name of the class called ``target``.

    Raises:
        ConfigError: ``target`` is not one of the model's classes.
    """
    names = [str(label) for label in labels]
    if str(target) not in names:
        raise ConfigError(f"unknown target class '{target}'", expected="one of the model's classes: "
                          + ", ".join(names[:20]) + (" ..." if len(names) > 20 else ""), got=str(target),
                          hint=did_you_mean(str(target), names))
    index = names.index(str(target))
    return Target(index, names[index])


def class_prediction(probabilities, labels: Sequence[str]) -> tuple[dict[str, Any], Target]:
    """A classifier's answer for one input from its class probabilities (a 1-D tensor): the
    prediction record (label and probability) and the predicted class as a target."""
    predicted = int(probabilities.argmax())
    label = labels[predicted]
    return {"label": label, "probability": round(float(probabilities[predicted]), 6)}, Target(predicted, label)


def positive_int(options: dict[str, str], key: str, default: int, largest: int = 10_000) -> int:
    """An integer option (``steps=32``) between 1 and ``largest``, or ``default`` when not given.

    Raises:
        ConfigError: The value is not such an integer.
    """
    value = options.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= largest:
        raise ConfigError(f"invalid value for '{key}'", expected=f"a whole number from 1 to {largest}",
                          got=repr(value), hint=f"for example {key}={default}")
    return number


def fraction(options: dict[str, str], key: str, default: float) -> float:
    """A number option strictly between 0 and 1 (``conf=0.4``), or ``default`` when not given.

    Raises:
        ConfigError: The value is not such a number.
    """
    value = options.get(key)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0.0 < number < 1.0:
        raise ConfigError(f"invalid value for '{key}'", expected="a number between 0 and 1", got=repr(value),
                          hint=f"for example {key}={default}")
    return number


def rounded(values, digits: int = 4):
    """Floats (nested lists or a numpy array) rounded to ``digits`` significant digits, for JSON."""
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    array = np.where(np.isfinite(array), array, 0.0)
    return [float(f"{v:.{digits}g}") for v in array] if array.ndim == 1 else [rounded(row, digits) for row in array]
