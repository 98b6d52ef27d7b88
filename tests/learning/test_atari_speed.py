"""The Atari speed model: the fits a label schedule asks for, counted by hand."""

from pbrl.atari_speed import fit_steps, write_speed


def test_fit_steps_follow_pbrls_schedule_and_the_label_buffer(tmp_path):
    # 3,300 labels: fits at 330, 495, 743, 1115, 1673, 2510 and 3300 labels (x1.5), each on 1 - 1/e of the
    # labels (the rest validate), at most the 3,000 most recent: max(50, ceil(4 * train / 64)) steps each
    assert fit_steps(3300) == 50 * 4 + 67 + 100 + 119
    assert fit_steps(3300, max_labels=0) == 50 * 4 + 67 + 100 + 131  # every label in the last fit
    assert fit_steps(100) == 7 * 50  # the floor of 50 steps rules small budgets
    assert fit_steps(1) == 50
    path = write_speed(tmp_path, [{"part": "reward fit step", "per_second": 0.5, "unit": "gradient steps",
                                   "note": ""}], "test machine", "pbrl bench atari --speed")
    text = path.read_text()
    assert "test machine" in text and "| reward fit step | 0.50 | gradient steps |  |" in text


def test_the_atari_speed_table_times_every_part_and_adds_them_up(require):
    require("pbrl/Pong-v5")
    from pbrl.atari_speed import measure_speed

    rows = measure_speed(repeats=1, steps=100_000, budgets=(200,))
    rates = {r["part"]: r["per_second"] for r in rows}
    assert all(rate > 0 for rate in rates.values()) and len(rows) == 9 + 2  # the parts, PPO, pbrl now and before
    ppo = rates["true-reward PPO (emulators + policy + update)"]
    pbrl = next(r for r in rows if r["part"].startswith("preference learning, 100,000 steps and 200 labels"))
    assert pbrl["per_second"] < ppo  # the reward model's inference and fits come on top of PPO's parts
    assert "x PPO's wall time" in pbrl["note"]
