"""``torchworks serve``: a FastAPI app over model bundles, with dynamic batching and a web page.

The app is built from :class:`~torchworks.server.models.ServedModel` objects, each speaking to its
task only through the task interface (``serving``, ``from_json``, ``predict_inputs``,
``format_predictions``): no task is named here.
"""
