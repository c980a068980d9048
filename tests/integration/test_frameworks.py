"""Each framework's script, unchanged, leaves on the cloud through swanlabd what it leaves through
the official SDK 0.10.3: the same runs, states, config, columns, and every scalar and media key
at the same steps, with the same values where training is deterministic (everything but timings).
So do the scripts that log to another tracker (TensorBoard, W&B offline, MLflow's file store)
through the sync_* bridges.

Real tiny CPU training in cached venvs (integ_venvs.py); the official side of each case is kept
under the cache root (referee.py), so a warm run costs swanlab_client's side only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import referee

# (script, arguments, runs it makes)
CASES = {
    # transformers 5.24's own callback; with swanlab 0.10 it needs a run before train() (see
    # test_transformers_report_to_without_a_run_fails_as_with_the_official_sdk).
    "transformers-report_to": ("hf_trainer.py", ("--callback", "builtin", "--init-first"), 1),
    "transformers-SwanLabCallback": ("hf_trainer.py", ("--callback", "swanlab"), 1),
    "lightning-SwanLabLogger-two-folds": ("lightning_folds.py", (), 2),
    "accelerate-log_with": ("accelerate_tracker.py", ("--tracker", "builtin"), 1),
    "accelerate-SwanLabTracker": ("accelerate_tracker.py", ("--tracker", "swanlab"), 1),
    "xgboost": ("xgboost_train.py", (), 1),
    "lightgbm": ("lightgbm_train.py", (), 1),
    "catboost": ("catboost_train.py", (), 1),
    "keras": ("keras_fit.py", (), 1),
    "stable-baselines3": ("sb3_learn.py", (), 1),
    "mmengine": ("mmengine_runner.py", (), 1),
    "ray-tune-two-trials": ("ray_tune.py", (), 2),
    # The script gives torchtune 0.6.1's moved modules their old names for the official logger
    # (test_the_official_torchtune_logger_needs_torchtune_0_2_module_names).
    "torchtune": ("torchtune_recipe.py", (), 1),
    "paddlenlp": ("paddlenlp_trainer.py", (), 1),
    "fastai": ("fastai_learner.py", (), 1),
    "ultralytics": ("ultralytics_train.py", (), 1),
    # The sync_* bridges: the other tracker's calls, copied into the run (docs/integrations.md).
    "sync_tensorboard_torch": ("tensorboard_torch.py", (), 1),
    "sync_tensorboardX-types": ("tensorboardx_types.py", (), 1),
    "sync_wandb-wandb_run": ("wandb_sync.py", ("true",), 1),
    "sync_wandb-no-wandb_run": ("wandb_sync.py", ("false",), 1),
    "sync_wandb-disabled-wandb": ("wandb_sync.py", ("disabled",), 1),
    "sync_mlflow": ("mlflow_sync.py", (), 1),
}

# MMEngine's iteration timer, Ray Tune's clock and timings, and Ultralytics' measured inference
# time, by their whole names.
TIMINGS = {
    "time",
    "data_time",
    "timestamp",
    "time_this_iter_s",
    "time_total_s",
    "time_since_restore",
    "model/speed_PyTorch(ms)",
}


def is_timing(key: str) -> bool:
    """Wall-clock measures (train_runtime, samples_per_second, SB3's time/fps...): never equal between two runs."""
    return key in TIMINGS or any(part in key for part in ("runtime", "per_second", "time/fps", "time/time_elapsed"))


@pytest.mark.parametrize("case", CASES)
def test_the_cloud_holds_what_the_official_sdk_leaves(case: str, tmp_path: Path) -> None:
    script, args, runs = CASES[case]
    official = referee.official(tmp_path / "official", script, *args)
    ours = referee.swanlabd(tmp_path / "swanlabd", script, *args, runs=runs)
    for side in (official, ours):
        assert side.errors == [] and side.duplicates == [], side.output
    assert sorted(ours.experiments) == sorted(official.experiments)
    assert len(ours.experiments) == runs
    for name, want in official.experiments.items():
        got = ours.experiments[name]
        assert got.state == want.state == "FINISHED"
        assert got.steps() == want.steps()
        assert got.media == want.media
        assert got.columns == want.columns
        assert {k: v for k, v in got.scalars.items() if not is_timing(k)} == {
            k: v for k, v in want.scalars.items() if not is_timing(k)
        }
        assert_same_config(want.config, got.config)
        # Config changes travel as one record per burst (the issue saw one per key, 155).
        assert got.config_records is not None and got.config_records <= CONFIG_RECORDS.get(case, 4)


# Ray Tune's callback sets the config from every result (its date changes), as officially: at
# most one record per result (4 per trial), beside init()'s and the trial's log path.
CONFIG_RECORDS = {"ray-tune-two-trials": 6}

# Config values that are clock readings or name the process: SB3's start_time (time.time_ns()
# at learn()); Ray Tune's result date, worker pid, trial and experiment ids, and the trial's
# folder in the Ray session; fastai's Learner, stored as its str(), which holds its address;
# Ultralytics' save_dir, the run's folder, which it makes absolute (under each side's tmp folder).
RUN_SPECIFIC_CONFIG = {
    "start_time",
    "date",
    "pid",
    "trial_id",
    "experiment_id",
    "trial_log_path",
    "Learner",
    "save_dir",
}


def assert_same_config(official: dict, ours: dict) -> None:
    """Equal, but for None (the official SDK 0.10.3 stores a None value as {}, swanlab_client as
    null: docs/integrations.md) and the values of RUN_SPECIFIC_CONFIG's keys."""
    assert sorted(ours) == sorted(official)
    differ = {k: (official[k], ours[k]) for k in official if official[k] != ours[k] and k not in RUN_SPECIFIC_CONFIG}
    assert all(theirs == {} and mine is None for theirs, mine in differ.values()), differ


def test_transformers_report_to_without_a_run_fails_as_with_the_official_sdk(tmp_path: Path) -> None:
    """transformers 5.24's callback asks `swanlab.get_run() is None`; swanlab 0.10's get_run()
    raises without a run, so `report_to="swanlab"` alone stops at train start on both sides."""
    for side in (referee.official, referee.swanlabd):
        with pytest.raises(AssertionError) as failed:
            side(tmp_path / side.__name__, "hf_trainer.py", "--callback", "builtin")
        output = str(failed.value)
        assert "exited 1" in output and "in get_run" in output
        assert "RuntimeError: No active Run" in output or "NotInitializedError: call swanlab_client.init()" in output


def test_the_official_torchtune_logger_needs_torchtune_0_2_module_names(tmp_path: Path) -> None:
    """The official logger imports torchtune.utils.metric_logging, which torchtune 0.3 moved to
    torchtune.training: with torchtune 0.6.1 and no old names it fails to import; swanlab_client's
    logs the same run as with them."""
    with pytest.raises(AssertionError) as failed:
        referee.official(tmp_path / "official", "torchtune_recipe.py", "--no-old-names")
    assert "No module named 'torchtune.utils.metric_logging'" in str(failed.value)
    ours = referee.swanlabd(tmp_path / "swanlabd", "torchtune_recipe.py", "--no-old-names")
    official = referee.official(tmp_path / "official-old-names", "torchtune_recipe.py")
    assert ours.errors == [] and ours.duplicates == [], ours.output
    assert sorted(ours.experiments) == sorted(official.experiments) == ["torchtune-1layer"]
    got, want = ours.experiments["torchtune-1layer"], official.experiments["torchtune-1layer"]
    assert got.state == want.state == "FINISHED"
    assert got.steps() == want.steps() and got.columns == want.columns
    assert_same_config(want.config, got.config)
