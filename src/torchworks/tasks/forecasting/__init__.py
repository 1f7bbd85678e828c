"""Forecasting: one or many time series, windows, backtests against naive, seasonal naive, ARIMA and ETS."""

from torchworks.tasks.forecasting.task import Forecasting

__all__ = ["Forecasting"]
