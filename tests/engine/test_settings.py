"""Settings the data decides (detected columns, a model for the data's size) are said once the data is
read, never printed as None, and recorded in the run's config."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def _console(err: str) -> str:
    return " ".join(err.split())


def test_a_text_run_prints_the_columns_it_found_instead_of_none(cli, tmp_path):
    rng = np.random.default_rng(0)
    words = {"billing": ["invoice", "charge", "refund"], "shipping": ["parcel", "courier", "delivery"]}
    rows = [{"id": i, "body": " ".join(rng.choice(words[topic], 3)) + " please", "topic": topic}
            for i, topic in enumerate(["billing", "shipping"] * 20)]
    pd.DataFrame(rows).to_csv(tmp_path / "news.csv", index=False)
    code, out, err = cli("train", "text-classification", f"data={tmp_path / 'news.csv'}", "model=embeddingbag",
                         "epochs=1", "baselines=false", "mlflow=false", "progress=false", f"output={tmp_path / 'runs'}")
    assert code == 0, err
    console = _console(err)
    config_line = console.split("config: ")[1].split(" data: ")[0]
    assert "None" not in config_line and "text=" not in config_line and "model=embeddingbag" in config_line
    assert "data: text=body label=topic (detected; set text=, label= to override)" in console
    run = out.strip().splitlines()[-1].removeprefix("bundle: ")
    config = json.loads((tmp_path / "runs" / "text-classification" / run.split("/")[-1] / "bundle.json")
                        .read_text())["config"]
    assert config["text"] == "body" and config["label"] == "topic"


def test_a_forecasting_run_prints_the_time_target_and_season_it_found(cli, tmp_path):
    steps = np.arange(120)
    pd.DataFrame({"date": pd.date_range("2020-01-04", periods=120, freq="W-SAT"),
                  "sales": 100 + 8 * np.sin(2 * np.pi * steps / 13)}).to_csv(tmp_path / "sales.csv", index=False)
    code, _, err = cli("train", "forecasting", f"data={tmp_path / 'sales.csv'}", "lookback=16", "horizon=4",
                       "epochs=1", "baselines=false", "mlflow=false", "progress=false", f"output={tmp_path / 'runs'}",
                       "name=weekly")
    assert code == 0, err
    console = _console(err)
    assert "data: time=date target=sales season=52 (detected; set time=, target=, season= to override)" in console
    assert "None" not in console.split(" data: ")[0]
    config = json.loads((tmp_path / "runs" / "forecasting" / "weekly" / "bundle.json").read_text())["config"]
    assert (config["time"], config["target"], config["season"]) == ("date", "sales", 52)


def test_a_small_training_split_gets_a_smaller_batch_so_each_epoch_makes_several_steps():
    from torchworks.config.schema import TrainConfig
    from torchworks.engine.settings import MIN_STEPS_PER_EPOCH, small_data_batch_size

    chosen = small_data_batch_size(TrainConfig(data="d"), 56)
    assert chosen.value == 8  # 56 samples: one step an epoch at 64, seven at 8
    assert chosen.reason == "chosen: 56 training samples make 1 optimiser step an epoch at batch_size=64, 7 at 8"
    assert small_data_batch_size(TrainConfig(data="d"), 57).value == 9  # no last batch of a single sample
    assert small_data_batch_size(TrainConfig(data="d"), 400).value == 32  # 13 steps at 32
    assert small_data_batch_size(TrainConfig(data="d"), 64 * MIN_STEPS_PER_EPOCH) is None  # enough steps already
    assert small_data_batch_size(TrainConfig(data="d", batch_size=64), 56) is None  # the user's choice stands
    assert small_data_batch_size(TrainConfig(data="d", batch_size=4), 20) is None  # never larger than asked
    assert small_data_batch_size(TrainConfig(data="d"), None) is None  # a dataset without a length


def test_the_chosen_batch_size_is_said_and_recorded(cli, photo_crops, tmp_path):
    code, out, err = cli("train", "image-classification", f"data={photo_crops}", "model=smallcnn", "image_size=32",
                         "epochs=1", "baselines=false", "mlflow=false", "progress=false", f"output={tmp_path / 'runs'}")
    assert code == 0, err
    import re

    assert re.search(r"batch_size: 8 \(chosen: 4\d training samples make 1 optimiser step an epoch at batch_size=64, "
                     r"6 at 8; set batch_size= to override\)", _console(err))
    run = out.strip().splitlines()[-1].removeprefix("bundle: ")
    assert json.loads((tmp_path / "runs" / "image-classification" / run.split("/")[-1] / "bundle.json")
                      .read_text())["config"]["batch_size"] == 8
