"""The TF-IDF + logistic regression baseline, fitted on the same split as the model."""

from __future__ import annotations

from torchworks.tasks.text_classification.baseline import tfidf_baseline
from torchworks.tasks.text_classification.config import TextClassificationConfig
from torchworks.tasks.text_classification.data import prepare_text_data


def test_baseline_scores_the_test_split(tickets_csv):
    data = prepare_text_data(TextClassificationConfig.model_validate({"data": str(tickets_csv), "model": "bigru"}))
    result = tfidf_baseline(data, seed=0, balanced=False)["tfidf_logreg"]
    assert result["test_samples"] == len(data.test)
    assert result["macro_f1"] > 0.8  # the tiny classes are told apart by their own words


def test_multi_label_baseline(tmp_path, write_table):
    rows = [{"text": f"{'refund' if i % 3 != 1 else ''} {'parcel' if i % 3 != 0 else ''} note {i}",
             "tags": ["billing", "shipping", "billing;shipping"][i % 3]} for i in range(60)]
    config = TextClassificationConfig.model_validate({"data": str(write_table(tmp_path / "m.csv", rows)),
                                                      "model": "bigru", "label_sep": ";"})
    result = tfidf_baseline(prepare_text_data(config), seed=0, balanced=True)["tfidf_logreg"]
    assert result["subset_accuracy"] > 0.8 and "per_class" in result
