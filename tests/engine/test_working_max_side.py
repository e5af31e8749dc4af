"""A run's ``data.working_max_side`` (the scale its weights learn) reaches every file it writes."""

from __future__ import annotations

import pytest

from dbdzoo.engine import train


def test_working_max_side_round_trips_through_last_pt_and_the_release(fast_cfg, tmp_path) -> None:
    from dbdzoo.hub import load_model

    train(fast_cfg("data.working_max_side=96", "validate_at_end=false"))
    ckpts = tmp_path / "run" / "checkpoints"
    assert load_model(str(ckpts / "last.pt")).working_max_side == 96
    assert load_model(str(ckpts / "last.safetensors")).working_max_side == 96


def test_unknown_working_max_side_stays_unknown(fast_cfg, tmp_path) -> None:
    from dbdzoo.hub import load_model

    train(fast_cfg("validate_at_end=false"))
    assert load_model(str(tmp_path / "run" / "checkpoints" / "last.pt")).working_max_side is None


@pytest.mark.parametrize("value", [0, -640, "'640px'"])
def test_bad_working_max_side_is_refused_with_one_line(fast_cfg, value) -> None:
    with pytest.raises(
        ValueError, match=r"config data\.working_max_side=.*expected a positive number of pixels"
    ):
        train(fast_cfg(f"data.working_max_side={value}"))


def test_cuhk_groups_train_at_the_native_640_side(compose_overrides, tmp_path) -> None:
    """The released CUHK recipe records 640 like ``hub/released.py``'s entry; synthetic groups: unknown."""
    cuhk = compose_overrides(["experiment=fpn_resnet10t_cuhk"], tmp_path)
    assert cuhk.data.working_max_side == 640
    assert compose_overrides(["data=synthetic"], tmp_path).data.working_max_side is None
    assert compose_overrides(["experiment=btbnet_cuhk"], tmp_path).data.working_max_side == 320
