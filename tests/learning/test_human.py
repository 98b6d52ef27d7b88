"""The human preference source: the store is the queue between trainer and app."""

import numpy as np

from pbrl.dataset import PreferenceDataset
from pbrl.human import HumanQueue
from pbrl.media import MediaWriter
from pbrl.store import PreferenceStore
from pbrl.types import Clip, Label, Outcome, Query


def clip(cid):
    return Clip(cid, "pbrl/CartPole-v1", np.ones((3, 4), np.float32), np.zeros(3, np.int64), np.ones(3), 3,
                states=np.zeros((3, 4)))


def test_labels_and_undos_reach_the_trainer_without_blocking(tmp_path):
    store = PreferenceStore(tmp_path / "labels.sqlite")
    queue = HumanQueue(store, MediaWriter(tmp_path, "pbrl/CartPole-v1"), queue_size=4)
    clips = {"a": clip("a"), "b": clip("b")}
    queue.publish(store, [Query("q0", ("a", "b")), Query("q1", ("b", "a"))], clips, 1.0, 0)
    queue.drain()  # rendered in the worker thread, each query stored once its clips exist
    assert store.clip("a").frames_path == "media/clip-a.mp4" and (tmp_path / "media" / "clip-a.mp4").stat().st_size
    assert queue.poll() == [] and queue.waiting() == 2  # nothing answered: poll returns at once
    app = PreferenceStore(tmp_path / "labels.sqlite")  # the rating app's own connection
    app.add_label(Label("q0", Outcome.LEFT, rater="ann"))
    app.add_label(Label("q1", Outcome.RIGHT, rater="ann"))
    dataset = PreferenceDataset()
    for label in queue.poll():
        dataset.add(store.query(label.query_id), label, clips)
    assert len(dataset) == 2 and queue.poll() == [] and queue.waiting() == 0
    app.retract("q1", "ann")
    app.add_label(Label("q1", Outcome.EQUAL, rater="ann"))  # a changed mind
    for query_id in queue.retracted():
        assert dataset.remove(query_id)
    (label,) = queue.poll()
    dataset.add(store.query("q1"), label, clips)
    assert [c.target_left for c in dataset.comparisons] == [1.0, 0.5]
    assert queue.retracted() == []
    queue.close()


def test_a_clip_shown_again_is_not_rendered_again(tmp_path):
    import os

    store = PreferenceStore(tmp_path / "labels.sqlite")
    queue = HumanQueue(store, MediaWriter(tmp_path, "pbrl/CartPole-v1"))
    clips = {"a": clip("a"), "b": clip("b"), "c": clip("c")}
    queue.publish(store, [Query("q0", ("a", "b"))], clips, 1.0, 0)
    queue.drain()
    first = os.stat(tmp_path / "media" / "clip-a.mp4").st_mtime_ns
    queue.publish(store, [Query("q1", ("a", "c"))], clips, 2.0, 0)  # a pool clip, without its frames_path
    queue.drain()
    assert os.stat(tmp_path / "media" / "clip-a.mp4").st_mtime_ns == first
    assert (store.clip("a").frames_path, store.clip("c").frames_path) == ("media/clip-a.mp4", "media/clip-c.mp4")
    queue.close()


def test_mujoco_clip_media_follows_the_runner_wherever_it_is(tmp_path, require):
    """One rendering env serves every clip: its camera tracks the body, so a cheetah 15 m or
    30 m down the track is on screen as it is at the start."""
    require("pbrl/HalfCheetah-v5")
    import gymnasium as gym

    writer = MediaWriter(tmp_path, "pbrl/HalfCheetah-v5")
    env = gym.make("pbrl/HalfCheetah-v5")
    env.reset(seed=0)
    state = np.concatenate([env.unwrapped.data.qpos, env.unwrapped.data.qvel])
    for x in (0.0, 15.0, -30.0):
        state[0] = x
        clip = Clip(f"x{x}", "pbrl/HalfCheetah-v5", np.zeros((2, 17), np.float32), np.zeros((2, 6), np.float32),
                    np.zeros(2), 2, states=np.stack([state, state]))
        frame = writer.frames(clip)[0].astype(int)
        assert ((frame[:, :, 0] - frame[:, :, 1]) > 40).mean() > 0.003, f"the cheetah is off screen at x={x}"
    writer.close()


def test_atari_clips_are_shown_from_their_own_frames_at_15_per_second(tmp_path, require):
    require("pbrl/Pong-v5")
    import gymnasium as gym

    from pbrl.media import read_mp4

    env = gym.make("pbrl/Pong-v5")
    obs, _ = env.reset(seed=0)
    frames = [obs]
    for _ in range(3):
        frames.append(env.step(env.action_space.sample())[0])
    env.close()
    clip = Clip("pong", "pbrl/Pong-v5", np.stack(frames), np.zeros(4, np.int64), np.zeros(4), 4)  # no simulator states
    writer = MediaWriter(tmp_path, "pbrl/Pong-v5")
    written = writer.write(clip)
    shown, fps = read_mp4(tmp_path / written.frames_path)
    assert fps == 15 and len(shown) == 4 and shown[0].shape[2] == 3
    writer.close()


def test_atari_clips_for_people_are_the_games_colour_frames_with_the_score_blanked(tmp_path, require):
    """With people rating, each step's emulator snapshot is recorded; the queried clip is shown
    as the game's colour screen after each action, the score areas black as in observations."""
    require("pbrl/Pong-v5")
    from pbrl import rl
    from pbrl.clips import ClipRecorder
    from pbrl.media import SimState, read_mp4

    venv = rl.make_env("pbrl/Pong-v5", 0, 1, wrapper_class=SimState)
    recorder = ClipRecorder(venv, "pbrl/Pong-v5", 6)
    recorder.reset()
    while not recorder.pool:
        recorder.step(np.array([venv.action_space.sample()]))
    venv.close()
    clip = recorder.pool[0]
    assert clip.states is not None and clip.states.dtype == np.uint8
    writer = MediaWriter(tmp_path, "pbrl/Pong-v5")
    shown, fps = read_mp4(tmp_path / writer.write(clip).frames_path)
    writer.close()
    assert len(shown) == 6 and shown[0].shape == (210, 160, 3) and fps == 15
    frame = shown[-1].astype(int)
    assert frame[30:190].std(axis=(0, 1)).max() > 10  # colour, a playfield (grey frames have equal channels)
    assert np.abs(frame[:, :, 0] - frame[:, :, 2]).mean() > 5
    assert frame[2:22].max() < 40  # the score rows (0:24) blanked (mp4 compression leaves a little)
