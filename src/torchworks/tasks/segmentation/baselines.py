"""Classical segmentation baselines, fitted on the training split and scored on the same test pairs as the
network, so that a segmentation run's numbers always sit next to what a model-free method gets.

- ``otsu`` (two classes only): each image is turned grey and split at its own Otsu threshold, the grey level
  that maximises the variance between the two sides of a 256-bin histogram. Whether the foreground (class 1) is
  the bright or the dark side is decided once, on the training images, as the side with the better training
  Dice of class 1. This is what a medical-imaging user tries first on a lesion, a cell or a bone, and it needs
  no training at all, so a network that does not clearly beat it has not earned its weights.
- ``pixel_gbm`` (any number of classes, two included): a scikit-learn ``HistGradientBoostingClassifier`` on
  per-pixel features (colour as RGB plus a luminance/chroma split, the local mean and standard deviation of
  luminance at three window sizes, the Sobel gradient magnitude and the normalised row and column). It is the
  classical learned peer: it sees colour and local texture, where Otsu only sees brightness, but not shapes or
  context, which is what a network adds.

Every score is :class:`~torchworks.tasks.segmentation.metrics.PixelConfusion` on the test pairs, ignored pixels
left out, plus ``seconds``: the wall time of fitting and predicting (feature computation included; reading the
datasets and scoring excluded).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np
import torch
from scipy import ndimage

from torchworks.errors import DataError
from torchworks.progress import track
from torchworks.tasks.segmentation.metrics import PixelConfusion

#: Box-filter sides (pixels) of the local luminance mean and standard deviation features.
TEXTURE_WINDOWS: tuple[int, ...] = (3, 7, 15)
#: Boosting rounds of the pixel classifier with up to three classes (early stopping is off: runs stay comparable).
GBM_MAX_ITER = 100
#: Learning rate at :data:`GBM_MAX_ITER` rounds (scikit-learn's default).
GBM_LEARNING_RATE = 0.1
#: Most trees each pixel goes through (see :func:`gbm_iterations`) and the fewest rounds ever fitted.
GBM_MAX_TREES = 300
GBM_MIN_ITER = 25
#: Bins of the grey-level histogram Otsu's threshold is chosen on.
OTSU_BINS = 256
#: Columns of :func:`pixel_features`.
FEATURE_NAMES: tuple[str, ...] = (
    "red", "green", "blue", "luminance", "chroma_blue", "chroma_red",
    *(f"{stat}_{size}" for size in TEXTURE_WINDOWS for stat in ("mean", "std")),
    "gradient", "row", "column",
)
# ITU-R BT.601 luma weights: the usual "grey" of an RGB image
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class PixelBaseline(Protocol):
    """A baseline seen one training pair at a time, fitted once, then asked for one test image at a time."""

    name: str

    def add(self, image: np.ndarray, mask: np.ndarray, valid: np.ndarray) -> None: ...

    def fit(self) -> None: ...

    def predict(self, image: np.ndarray) -> np.ndarray: ...


def segmentation_baselines(train: Iterable[Any], test: Iterable[Any], labels: list[str], ignore_index: int, *,
                           include_background: bool = True, seed: int = 0, max_train_pixels: int = 300_000,
                           progress: bool = True) -> dict[str, dict[str, Any]]:
    """Fit the classical baselines on ``train`` and score them on ``test``.

    Both splits are read once each (one pass over the training pairs feeds every baseline), so a dataset that
    decodes files on access is decoded only once per split.

    Args:
        train: Sized iterable of ``(image, mask)`` pairs: image float ``[3, H, W]`` in [0, 1], mask int
            ``[H, W]`` of class indices or ``ignore_index``. Sizes may differ between pairs.
        test: The same, scored.
        labels: Class names by index; with two classes ``otsu`` runs as well as ``pixel_gbm``.
        ignore_index: Mask value of pixels that are never fitted on and never scored.
        include_background: Whether class 0 counts in the mean scores.
        seed: Seed of the pixel sample and of the classifier.
        max_train_pixels: Most training pixels the pixel classifier is fitted on (see :class:`PixelGBM`).
        progress: Whether to show a progress bar over the test images.

    Returns:
        ``{baseline_name: scores}``, scores being ``PixelConfusion.compute()`` plus ``seconds``.

    Raises:
        DataError: When an image and its mask disagree in size or no training pixel is labelled.
    """
    n_classes = len(labels)
    baselines: list[PixelBaseline] = [PixelGBM(n_classes, max_train_pixels, seed)]
    if n_classes == 2:
        baselines.insert(0, OtsuThreshold())
    seconds = {baseline.name: 0.0 for baseline in baselines}
    metrics = {baseline.name: PixelConfusion(labels, ignore_index, include_background) for baseline in baselines}
    with _one_openmp_thread():
        for image, mask in train:
            image, mask, valid = _as_arrays(image, mask, n_classes)
            for baseline in baselines:
                seconds[baseline.name] += _timed(baseline.add, image, mask, valid)[0]
        for baseline in baselines:
            seconds[baseline.name] += _timed(baseline.fit)[0]
        total = len(test) if hasattr(test, "__len__") else None
        for image, mask in track(test, "scoring segmentation baselines", total=total, enabled=progress):
            image, mask, _ = _as_arrays(image, mask, n_classes)
            target = torch.from_numpy(mask).unsqueeze(0)
            for baseline in baselines:
                elapsed, predicted = _timed(baseline.predict, image)
                seconds[baseline.name] += elapsed
                metrics[baseline.name].update(torch.from_numpy(predicted).unsqueeze(0), target)
        return {name: {**metric.compute(), "seconds": seconds[name]} for name, metric in metrics.items()}


class OtsuThreshold:
    """Otsu's threshold per image on the grey image; the foreground's polarity learned on the training images.

    Training only counts, for the "foreground is brighter" rule, the confusion of class 1 over the labelled
    training pixels; the "darker" rule is its complement, so one count serves both. An image's threshold comes
    from all its pixels, ignored ones included, since it uses no labels (as when predicting).
    """

    name = "otsu"

    def __init__(self) -> None:
        self._confusion = np.zeros((2, 2), dtype=np.int64)  # rows: true class, columns: "brighter" prediction
        self.foreground_brighter = True

    def add(self, image: np.ndarray, mask: np.ndarray, valid: np.ndarray) -> None:
        """Count the "brighter" rule's confusion on one labelled training image."""
        brighter = _above_otsu(_luminance(image))
        pairs = 2 * mask[valid] + brighter[valid]
        self._confusion += np.bincount(pairs, minlength=4).reshape(2, 2)

    def fit(self) -> None:
        """Keep the polarity with the better training Dice of class 1."""
        (tn, fp), (fn, tp) = self._confusion
        # under the "darker" rule every brighter-prediction flips: its true positives are our false negatives
        dice_brighter = _dice(tp, fp, fn)
        dice_darker = _dice(fn, tn, tp)
        self.foreground_brighter = dice_brighter >= dice_darker

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Class indices ``[H, W]`` (int64) of one image."""
        brighter = _above_otsu(_luminance(image))
        return (brighter if self.foreground_brighter else ~brighter).astype(np.int64)


def otsu_threshold(grey: np.ndarray, bins: int = OTSU_BINS) -> float:
    """Otsu's threshold of grey values in [0, 1]: pixels at or above it are one class, those below the other.

    The threshold is the upper edge of the histogram bin that maximises the between-class variance
    ``w0 * w1 * (mu0 - mu1) ** 2``; an image of a single grey level gets 1.0 (everything below it).
    """
    return _otsu_bin(_bin_index(grey, bins), bins) / bins


def _otsu_bin(index: np.ndarray, bins: int) -> int:
    """The first histogram bin of the upper class of bin indices ``index`` (``bins`` when none splits)."""
    probability = np.bincount(index.ravel(), minlength=bins) / index.size
    centres = (np.arange(bins) + 0.5) / bins
    weight_below = np.cumsum(probability)
    mass_below = np.cumsum(probability * centres)
    weight_above = 1.0 - weight_below
    with np.errstate(divide="ignore", invalid="ignore"):
        # w0 * w1 * (mu0 - mu1)^2 from cumulative sums only: (mu_T * w0 - m0)^2 / (w0 * w1)
        between = (mass_below[-1] * weight_below - mass_below) ** 2 / (weight_below * weight_above)
    # a split with an empty side is no split (w1 is 1 - w0, so compare it with rounding slack)
    between[(weight_below <= 0) | (weight_above <= 1e-12)] = -1.0
    best = int(np.argmax(between))
    return bins if between[best] <= 0 else best + 1


def _above_otsu(grey: np.ndarray) -> np.ndarray:
    """Whether each pixel is at or above its image's Otsu threshold (compared in bins, as it was chosen)."""
    index = _bin_index(grey, OTSU_BINS)
    return index >= _otsu_bin(index, OTSU_BINS)


def _bin_index(grey: np.ndarray, bins: int) -> np.ndarray:
    return np.clip((grey * bins).astype(np.int64), 0, bins - 1)


def _dice(tp: int, fp: int, fn: int) -> float:
    return 2.0 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


class PixelGBM:
    """A gradient-boosted classifier of single pixels from their colour, local texture and position.

    It is fitted on at most ``max_train_pixels`` labelled training pixels, sampled class by class: each class
    gets at most an equal share (``max_train_pixels // C``) and that share is a uniform random sample of the
    class's pixels over all training images (a bottom-k sample of random keys drawn from ``seed``, so one
    pass, bounded memory and the same sample for the same seed). Small classes are thus seen in full or close
    to it instead of drowning in the background; a class with fewer pixels than its share gives them all, and
    the share it leaves is not passed on. Because the sample is balanced, the classifier's class priors are
    flatter than the data's, which favours the recall of small classes over their precision. Ignored pixels
    are never sampled.

    Args:
        n_classes: Number of classes.
        max_train_pixels: Most pixels fitted on.
        seed: Seed of the sample and of the classifier.
    """

    name = "pixel_gbm"

    def __init__(self, n_classes: int, max_train_pixels: int, seed: int) -> None:
        self.n_classes = n_classes
        self.seed = seed
        self._share = max(1, max_train_pixels // n_classes)
        self._rng = np.random.default_rng(seed)
        self._keys: list[list[np.ndarray]] = [[] for _ in range(n_classes)]
        self._rows: list[list[np.ndarray]] = [[] for _ in range(n_classes)]
        self._model: Any = None
        self._constant: int | None = None

    def add(self, image: np.ndarray, mask: np.ndarray, valid: np.ndarray) -> None:
        """Offer one training image's labelled pixels to each class's sample."""
        flat_mask, flat_valid = mask.ravel(), valid.ravel()
        features = pixel_features(image)
        for label in np.unique(flat_mask[flat_valid]):
            where = np.flatnonzero((flat_mask == label) & flat_valid)
            keys = self._rng.random(where.size)
            # only this image's share smallest keys can be among the share smallest keys overall
            if where.size > self._share:
                keep = np.argpartition(keys, self._share - 1)[: self._share]
                where, keys = where[keep], keys[keep]
            self._keys[label].append(keys)
            self._rows[label].append(features[where])
            if sum(len(k) for k in self._keys[label]) > 2 * self._share:  # compact now and then, not per image
                self._compact(label)

    def _compact(self, label: int) -> None:
        keys, rows = np.concatenate(self._keys[label]), np.concatenate(self._rows[label])
        if keys.size > self._share:
            keep = np.argpartition(keys, self._share - 1)[: self._share]
            keys, rows = keys[keep], rows[keep]
        self._keys[label], self._rows[label] = [keys], [rows]

    def training_sample(self) -> tuple[np.ndarray, np.ndarray]:
        """The sampled pixels so far: features ``[N, 15]`` and their classes ``[N]``."""
        seen = [label for label in range(self.n_classes) if self._keys[label]]
        for label in seen:
            self._compact(label)
        if not seen:
            return np.empty((0, len(FEATURE_NAMES)), dtype=np.float32), np.empty(0, dtype=np.int64)
        x = np.concatenate([self._rows[label][0] for label in seen])
        y = np.concatenate([np.full(len(self._rows[label][0]), label, dtype=np.int64) for label in seen])
        return x, y

    def fit(self) -> None:
        """Fit the classifier on the sampled pixels (a constant answer when only one class was labelled)."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        x, y = self.training_sample()
        self._keys, self._rows = [[] for _ in range(self.n_classes)], [[] for _ in range(self.n_classes)]
        classes = np.unique(y)
        if classes.size == 0:
            raise DataError("no labelled training pixel for the segmentation baselines",
                            expected="training masks with class indices", got="only ignored pixels",
                            hint="check ignore_index and the training masks")
        if classes.size == 1:  # scikit-learn refuses a single class; the only sensible answer is that class
            self._constant = int(classes[0])
            return
        iterations = gbm_iterations(int(classes.size))
        self._model = HistGradientBoostingClassifier(
            max_iter=iterations, learning_rate=GBM_LEARNING_RATE * GBM_MAX_ITER / iterations,
            early_stopping=False, random_state=self.seed)
        self._model.fit(x, y)

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Class indices ``[H, W]`` (int64) of one image."""
        height, width = image.shape[1:]
        if self._constant is not None:
            return np.full((height, width), self._constant, dtype=np.int64)
        return self._model.predict(pixel_features(image)).astype(np.int64).reshape(height, width)


def gbm_iterations(n_classes: int) -> int:
    """Boosting rounds for ``n_classes`` classes: :data:`GBM_MAX_ITER`, fewer beyond three classes.

    A multi-class model grows one tree per class per round and predicting every pixel of every test image
    costs in proportion to the trees (about 40 ns per pixel per tree), so the rounds shrink to keep at most
    :data:`GBM_MAX_TREES` trees (never fewer than :data:`GBM_MIN_ITER` rounds); the learning rate grows in
    proportion so the model can move as far as with 100 rounds.
    """
    trees_per_round = 1 if n_classes == 2 else n_classes
    return max(GBM_MIN_ITER, min(GBM_MAX_ITER, GBM_MAX_TREES // trees_per_round))


def pixel_features(image: np.ndarray) -> np.ndarray:
    """Per-pixel features ``[H * W, 15]`` (float32, pixels row by row) of an image ``[3, H, W]`` in [0, 1].

    Columns (named by :data:`FEATURE_NAMES`): R, G, B; luminance and the two chroma differences B - Y and
    R - Y (a colour split in which trees need fewer cuts than in RGB); the local mean and standard deviation
    of luminance in each :data:`TEXTURE_WINDOWS` box; the Sobel gradient magnitude of luminance; row and
    column in [0, 1].
    """
    height, width = image.shape[1:]
    luma = _luminance(image)
    columns = [image[0], image[1], image[2], luma, image[2] - luma, image[0] - luma]
    for size in TEXTURE_WINDOWS:
        mean = ndimage.uniform_filter(luma, size=size, mode="reflect")
        mean_square = ndimage.uniform_filter(luma * luma, size=size, mode="reflect")
        # E[x^2] - E[x]^2 can dip below zero by rounding on flat patches
        columns += [mean, np.sqrt(np.maximum(mean_square - mean * mean, 0.0))]
    columns.append(np.hypot(ndimage.sobel(luma, axis=0), ndimage.sobel(luma, axis=1)))
    rows, cols = np.meshgrid(np.linspace(0.0, 1.0, height, dtype=np.float32),
                             np.linspace(0.0, 1.0, width, dtype=np.float32), indexing="ij")
    columns += [rows, cols]
    return np.stack([np.asarray(c, dtype=np.float32).ravel() for c in columns], axis=1)


def _luminance(image: np.ndarray) -> np.ndarray:
    return np.tensordot(_LUMA, image, axes=1).astype(np.float32)


def _as_arrays(image: Any, mask: Any, n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image ``[3, H, W]`` float32, mask ``[H, W]`` int64 and the mask of scored pixels, as numpy arrays."""
    image = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image, dtype=np.float32)
    mask = np.asarray(mask.detach().cpu() if isinstance(mask, torch.Tensor) else mask, dtype=np.int64)
    if image.ndim != 3 or image.shape[0] != 3 or image.shape[1:] != mask.shape:
        raise DataError("an image and its mask do not fit together", expected="image [3, H, W] and mask [H, W]",
                        got=f"image {list(image.shape)} and mask {list(mask.shape)}")
    # anything outside 0..C-1 is ignore_index (validated when the masks were read)
    valid = (mask >= 0) & (mask < n_classes)
    return image, mask, valid


def _timed(function: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def _one_openmp_thread() -> Any:
    """Run the OpenMP loops of scikit-learn and torch on one thread while the baselines run.

    On a small machine shared with other work (2 cores here), OpenMP's busy-waiting threads made the work
    several times slower than one thread (measured: predicting a 256 x 256 image took 0.96 s on two threads,
    0.31 s on one; scoring it took 15-85 ms against 1 ms), and a baseline should not compete with the run it
    is compared with.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")
