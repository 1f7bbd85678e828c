"""Forecasting: one or many time series, windows, backtests against naive, seasonal naive, ARIMA and ETS."""

from torchworks.tasks.forecasting import samples  # noqa: F401  (registers the task's sample datasets)
from torchworks.tasks.forecasting.task import Forecasting

__all__ = ["Forecasting"]
