"""Speech recognition: log-mel features, CNN+BiGRU or Conformer encoders, CTC, greedy and beam decoding."""

from torchworks.tasks.speech_recognition import samples  # noqa: F401  (registers the task's sample datasets)
from torchworks.tasks.speech_recognition.task import SpeechRecognition

__all__ = ["SpeechRecognition"]
