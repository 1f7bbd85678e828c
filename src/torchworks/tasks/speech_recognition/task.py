"""The speech-recognition task: ties clips, log-mel features, CTC models and decoders to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torchworks.tasks import register_task
from torchworks.tasks.protocol import Evaluation, Explainable, Explanation, Exportable, Servable, ServingSpec, Task
from torchworks.tasks.speech_recognition.config import SpeechRecognitionConfig
from torchworks.tasks.speech_recognition.state import SpeechRecognitionState
from torchworks.tasks.values import InputKinds

if TYPE_CHECKING:  # the task's modules import torch; they load when a method needs them
    import torch
    from torch import nn

    from torchworks.tasks.speech_recognition.data import SpeechData

_AUDIO_FILES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif")


@register_task
class SpeechRecognition(Task, Explainable, Exportable, Servable):
    """Transcribe speech: commands, digits, call snippets; CTC over characters, greedy or beam decoding."""

    name = "speech-recognition"
    description = "Transcribe speech (digits, commands, LibriSpeech) with CTC models; WER and CER"
    config_class = SpeechRecognitionConfig
    state_class = SpeechRecognitionState
    primary_metric = "wer"
    higher_is_better = False
    prediction_options = ("decoder", "beam_width", "lexicon")
    # audio.AUDIO_SUFFIXES (that module imports numpy)
    input_kinds = InputKinds(files=_AUDIO_FILES, folder_files=_AUDIO_FILES,
                             description="audio files (.wav, .flac, .ogg, .mp3, ...) or folders of them")
    explain_methods = ("saliency",)
    explain_options = ()

    def prepare_data(self, config: SpeechRecognitionConfig, state: dict[str, Any] | None = None) -> SpeechData:
        from torchworks.tasks.speech_recognition.data import prepare_speech_data

        return prepare_speech_data(config, state)

    def collate_fn(self, *, labelled: bool):
        from functools import partial

        from torchworks.tasks.speech_recognition.data import collate_frames

        return partial(collate_frames, labelled=labelled)

    def build_model(self, config: SpeechRecognitionConfig, state: dict[str, Any], *, for_training: bool) -> nn.Module:
        from torchworks.tasks.speech_recognition.models import build_acoustic_model

        return build_acoustic_model(config.model, state["n_mels"], len(state["tokens"]), config.hidden,
                                    config.layers, config.heads, config.dropout, config.time_stride)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
        from torch.nn import functional as F

        from torchworks.tasks.speech_recognition.models import output_lengths

        # targets are zero-padded token ids (0 is the blank, never a target)
        return F.ctc_loss(outputs.float().transpose(0, 1), targets, output_lengths(outputs), (targets > 0).sum(dim=1),
                          blank=0, zero_infinity=True)

    def validation_metrics(self, state: dict[str, Any]):
        from torchmetrics import MetricCollection

        from torchworks.tasks.speech_recognition.evaluation import GreedyWER

        return MetricCollection({"wer": GreedyWER(state["tokens"])})

    def evaluate(self, outputs: torch.Tensor, targets: torch.Tensor, data: SpeechData,
                 config: SpeechRecognitionConfig) -> Evaluation:
        from torchworks.tasks.speech_recognition.evaluation import evaluate_transcripts

        return evaluate_transcripts(outputs, data.transcripts["test"], data.files["test"], data.state,
                                    config.decoder, config.beam_width, clips=data.test)

    def predict_inputs(self, inputs: Sequence[Any], state: dict[str, Any]):
        from torchworks.tasks.speech_recognition.predicting import audio_inputs

        return audio_inputs(inputs, state)

    def format_predictions(self, outputs: torch.Tensor, ids: list[Any], state: dict[str, Any],
                           top_k: int) -> list[dict[str, Any]]:
        from torchworks.tasks.speech_recognition.predicting import transcript_records

        return transcript_records(outputs, ids, state, state.get("decoder", "beam"), state.get("beam_width", 16))

    def example_input(self, state: dict[str, Any]) -> dict[str, torch.Tensor]:
        import torch

        return {"features": torch.zeros(2, 50, state["n_mels"]), "lengths": torch.tensor([50, 30])}

    def dynamic_axes(self, state: dict[str, Any]) -> dict[str, dict[int, str]]:
        return {"features": {0: "batch", 1: "frames"}, "lengths": {0: "batch"}}

    def explain(self, model: nn.Module, inputs: dict[str, torch.Tensor], ids: list[Any], state: dict[str, Any],
                method: str, target: str | None, options: dict[str, str]) -> list[Explanation]:
        from torchworks.tasks.speech_recognition.explaining import explain_clips

        return explain_clips(model, inputs, ids, state, method, target, options)

    def serving(self, state: dict[str, Any]) -> ServingSpec:
        from torchworks.tasks.speech_recognition.audio import AUDIO_SUFFIXES
        from torchworks.tasks.speech_recognition.predicting import Transcript

        return ServingSpec(input_kind="audio", file_types=AUDIO_SUFFIXES, json_item=None, record=Transcript,
                           options=("decoder", "beam_width"))

    def quickstart_settings(self) -> dict[str, Any]:
        # A quarter of the default budget: smaller batches and a higher rate give more, larger steps per
        # second, and the 10 ms hop's shorter sequences leave CTC's all-blank phase sooner (at 7.5 ms, 7
        # epochs end with a validation WER of 0.86).
        return {"data": "spoken-digits", "name": "quickstart-spoken-digits", "epochs": 7, "batch_size": 16,
                "lr": 3e-3, "hop_ms": 10.0}
