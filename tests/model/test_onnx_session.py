"""The loaded model: both sessions agree, and lone requests follow the faster one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.model.onnx_session import LoneRunChooser, load_model


def test_narrow_and_wide_sessions_give_the_same_probabilities(default_model_dir: Path) -> None:
    model = load_model(default_model_dir, intra_op_threads=2)
    batch = np.random.default_rng(7).standard_normal((1, 3, 224, 224), dtype=np.float32)
    narrow = model.infer(batch)
    chooser_before = model.lone.estimates_ms()
    assert chooser_before[0] is not None  # measured during warm-up
    for _ in range(4):
        assert np.allclose(model.infer_lone(batch), narrow, atol=1e-5)
    if model.wide_session is not None:
        assert chooser_before[1] is not None


def test_a_single_thread_setting_opens_no_wide_session(default_model_dir: Path) -> None:
    model = load_model(default_model_dir, intra_op_threads=1)
    assert model.wide_session is None
    batch = np.zeros((1, 3, 224, 224), dtype=np.float32)
    assert np.array_equal(model.infer_lone(batch), model.infer(batch))


def test_chooser_takes_the_faster_and_explores_the_other() -> None:
    chooser = LoneRunChooser(explore_every=4)
    assert chooser.pick() is False  # nothing measured: narrow first
    chooser.record(False, 0.010)
    assert chooser.pick() is True  # wide never measured yet
    chooser.record(True, 0.006)
    picks = [chooser.pick() for _ in range(8)]
    assert picks.count(True) == 6 and picks.count(False) == 2  # every 4th call explores


def test_chooser_ignores_one_slow_run_of_the_faster_session() -> None:
    chooser = LoneRunChooser(explore_every=100, window=8)
    chooser.record(False, 0.010)
    chooser.record(True, 0.006)
    chooser.record(True, 0.040)  # one run slowed by a passing burst of other work
    assert [chooser.pick() for _ in range(3)] == [True, True, True]


def test_chooser_follows_a_change_in_load() -> None:
    chooser = LoneRunChooser(explore_every=4, window=8)
    chooser.record(False, 0.010)
    chooser.record(True, 0.006)
    for _ in range(10):  # the machine gets busy: wide calls slow down
        chooser.record(True, 0.030)
    assert [chooser.pick() for _ in range(3)] == [False, False, False]
