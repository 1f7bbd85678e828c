"""Sample text datasets for the text-classification task, shipped as data files in this package.

``tickets`` is a support-ticket dataset written for torchworks: customer messages to an online
shop in six classes (billing, shipping, account, technical, returns, product), short and long,
polite and angry, with typos and mixed topics, and a fixed test split in its ``split`` column.
"""

from __future__ import annotations

from torchworks.datasets import SampleDataset, packaged, register_sample

TICKETS = register_sample(
    SampleDataset(
        name="tickets",
        task="text-classification",
        description="customer-support tickets, 6 classes (billing, shipping, account, technical, returns, "
        "product), own test split",
        source="written for torchworks (varied, realistic, not templated)",
        materialize=lambda target: packaged(__package__, "tickets.csv"),
    )
)
