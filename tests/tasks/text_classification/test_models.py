"""Scratch networks: shapes, padding that changes nothing, and learning a keyword rule."""

from __future__ import annotations

import pytest
import torch

from torchworks.tasks.text_classification.data import collate_tokens
from torchworks.tasks.text_classification.models import build_scratch_model

MODELS = ["embeddingbag", "bigru", "bilstm", "transformer"]


def _model(name: str, classes: int = 3):
    torch.manual_seed(0)
    return build_scratch_model(name, 50, classes, dim=16, hidden=16, layers=2, heads=4, dropout=0.0,
                               max_length=32)


@pytest.mark.parametrize("name", MODELS)
def test_padding_does_not_change_the_output(name):
    model = _model(name).eval()
    short, long = torch.tensor([5, 6, 7]), torch.tensor([8, 9, 10, 11, 12, 13])
    together = model(collate_tokens([short, long], labelled=False))
    alone = model(collate_tokens([short], labelled=False))
    assert together.shape == (2, 3)
    assert torch.allclose(together[0], alone[0], atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_learns_which_keyword_decides_the_class(name):
    generator = torch.Generator().manual_seed(1)
    texts, labels = [], []
    for _ in range(96):
        label = int(torch.randint(0, 3, (1,), generator=generator))
        filler = torch.randint(10, 50, (int(torch.randint(3, 9, (1,), generator=generator)),), generator=generator)
        position = int(torch.randint(0, len(filler), (1,), generator=generator))
        texts.append(torch.cat([filler[:position], torch.tensor([5 + label]), filler[position:]]))
        labels.append(label)
    batch, targets = collate_tokens(list(zip(texts, torch.tensor(labels))), labelled=True)
    model = _model(name)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2 if name != "embeddingbag" else 5e-2)
    for _ in range(60):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(batch), targets).backward()
        optimizer.step()
    accuracy = (model.eval()(batch).argmax(1) == targets).float().mean()
    assert accuracy > 0.9
