"""Masks made visible: class colours, an overlay that leaves background alone, and errors in two colours."""

from __future__ import annotations

import numpy as np

from torchworks.tasks.segmentation.drawing import FALSE_NEGATIVE, FALSE_POSITIVE, colour_mask, error_map, overlay

COLOURS = [[0, 0, 0], [255, 0, 0], [0, 0, 255]]


def test_colour_mask_and_overlay():
    mask = np.array([[0, 1], [2, 255]])
    painted = colour_mask(mask, COLOURS, ignore_index=255)
    assert painted[0, 1].tolist() == [255, 0, 0] and painted[1, 0].tolist() == [0, 0, 255]
    assert painted[1, 1].tolist() == [255, 255, 255]
    image = np.full((2, 2, 3), 100, dtype=np.uint8)
    blended = overlay(image, mask, COLOURS, opacity=0.5, ignore_index=255)
    assert blended[0, 0].tolist() == [100, 100, 100]  # background untouched
    assert blended[0, 1].tolist() == [178, 50, 50]
    assert blended[1, 1].tolist() == [100, 100, 100]  # ignored untouched


def test_error_map_marks_false_positives_and_negatives():
    truth = np.array([[0, 1, 2, 255]])
    predicted = np.array([[1, 0, 1, 0]])
    errors = error_map(np.zeros((1, 4, 3), dtype=np.uint8), truth, predicted, 255)
    assert errors[0, 0].tolist() == list(FALSE_POSITIVE)
    assert errors[0, 1].tolist() == list(FALSE_NEGATIVE) and errors[0, 2].tolist() == list(FALSE_NEGATIVE)
    assert errors[0, 3].tolist() == [64, 64, 64]  # an ignored pixel is never an error
