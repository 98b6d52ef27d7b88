"""The real pygame window (SDL dummy driver) on real runs: keys and clicks through pygame's
event queue write labels to the store; bad input is refused or skipped with a message."""

import io
import sqlite3
import time

import numpy as np
import pygame
import pytest

from pbrl.clip_ui.app import PANEL, RatingApp, layout
from pbrl.clip_ui.demo import make_demo_run
from pbrl.store import PreferenceStore
from pbrl.types import Outcome


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory):
    return make_demo_run(tmp_path_factory.mktemp("demo") / "run", queries=8)


@pytest.fixture
def demo(demo_template, tmp_path):
    import shutil

    return shutil.copytree(demo_template, tmp_path / "run")


def open_app(run, rater="ann", size=(900, 500)):
    app = RatingApp(run, rater, size=size, log=io.StringIO())
    app.poll(time.time())
    app.draw()
    return app


def press(app, *keys):
    for key in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
        pump(app)


def pump(app):
    for event in pygame.event.get():
        app.handle_pygame(event)
    app.poll(time.time())
    app.draw()


def outcomes(run):
    return [(lab.query_id, lab.outcome) for lab in PreferenceStore(run / "labels.sqlite").labels()]


def test_keys_write_labels_and_undo_retracts(demo):
    app = open_app(demo)
    assert app.session.current.query_id == "q0"
    press(app, pygame.K_LEFT, pygame.K_RIGHT, pygame.K_UP, pygame.K_DOWN)
    assert outcomes(demo) == [("q0", Outcome.LEFT), ("q1", Outcome.RIGHT), ("q2", Outcome.EQUAL), ("q3", Outcome.SKIP)]
    press(app, pygame.K_BACKSPACE)  # undo: q3's label is gone and q3 is on screen again
    assert [q for q, _ in outcomes(demo)] == ["q0", "q1", "q2"] and app.session.current.query_id == "q3"
    press(app, pygame.K_RIGHT)
    assert outcomes(demo)[-1] == ("q3", Outcome.RIGHT)
    assert "saved q0 left" in app.log.getvalue() and "undone q3" in app.log.getvalue()
    press(app, pygame.K_SPACE, pygame.K_PLUS)
    assert app.session.paused and app.session.speed == 2.0
    app.close()
    store = PreferenceStore(demo / "labels.sqlite")
    record = store.label_records()[0]
    assert record["rater"] == "ann" and record["answered_at"] >= record["shown_at"] > 0


def test_both_clips_and_the_status_bar_are_drawn(demo):
    app = open_app(demo)
    for _ in range(5):
        pump(app)
    pixels = pygame.surfarray.array3d(app.screen).swapaxes(0, 1)  # [H, W, 3]
    lay = layout(app.screen.get_size(), 2, False)
    for rect in lay.clips:  # CartPole frames: mostly white, with the cart in black
        region = pixels[rect.y:rect.bottom, rect.x:rect.right]
        assert (region.mean(axis=2) > 240).mean() > 0.3
        assert (region.mean(axis=2) < 30).any()
    bar = pixels[lay.status.y + 2:lay.status.bottom - 2, :]
    assert (bar == PANEL).all(axis=2).mean() > 0.5 and (bar.mean(axis=2) > 180).any()  # panel with text
    app.close()


def test_clicks_on_clips_and_buttons(demo):
    app = open_app(demo)
    lay = layout(app.screen.get_size(), 2, False)
    for target in (lay.clips[1].center, lay.buttons["button:equal"].center, lay.buttons["button:left"].center):
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=target))
        pump(app)
    assert [o for _, o in outcomes(demo)] == [Outcome.RIGHT, Outcome.EQUAL, Outcome.LEFT]
    app.close()


def test_closing_the_window_mid_clip_writes_no_label_and_returns_the_query(demo):
    app = open_app(demo)
    press(app, pygame.K_LEFT)
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    pump(app)
    assert app.session.quit
    app.close()
    assert outcomes(demo) == [("q0", Outcome.LEFT)]
    other = PreferenceStore(demo / "labels.sqlite")
    assert other.claim_next("bob", now=time.time()).query_id == "q1"  # handed back at once


def test_the_window_resizes_and_clips_follow(demo):
    app = open_app(demo)
    app.screen = pygame.display.set_mode((600, 400), pygame.RESIZABLE)
    pygame.event.post(pygame.event.Event(pygame.VIDEORESIZE, size=(600, 400), w=600, h=400))
    pump(app)
    view = app.views["q0"][0]
    frame = view.frame_at(0.0, layout((600, 400), 2, False).clips[0].size)
    assert frame.get_width() <= (600 - 36) // 2
    app.close()


def test_a_missing_or_corrupt_clip_file_skips_that_query_only(demo):
    store = PreferenceStore(demo / "labels.sqlite")
    q0, q1 = store.query("q0"), store.query("q1")
    missing = demo / store.clip_media(q0.clip_ids[0])[0]
    corrupt = demo / store.clip_media(q1.clip_ids[1])[0]
    bad = {q0.clip_ids[0], q1.clip_ids[1]}
    missing.unlink()
    corrupt.write_bytes(b"not a video" * 10)
    app = open_app(demo)
    log = app.log.getvalue()
    assert f"skipped q0: clip file {missing} is missing" in log
    assert f"skipped q1: clip file {corrupt} is corrupt" in log
    current = app.session.current
    assert current is not None and not set(current.clip_ids) & bad
    press(app, pygame.K_LEFT)
    app.close()
    assert outcomes(demo) == [(current.query_id, Outcome.LEFT)]
    store = PreferenceStore(demo / "labels.sqlite")
    marked = [r[0] for r in store.db.execute("SELECT query_id FROM queries WHERE broken IS NOT NULL")]
    assert {"q0", "q1"} <= set(marked) and all(set(store.query(q).clip_ids) & bad for q in marked)
    assert store.waiting("zed", time.time()) == 8 - len(marked) - 1  # broken ones left the queue, for everyone


def test_ranking_mode_and_text_clips(tmp_path):
    texts = ["The capital of France is Paris.", "Paris " * 60, "I don't know."]
    run = make_demo_run(tmp_path / "text", queries=2, k=3, texts=texts)
    app = open_app(run)
    assert len(app.session.current.clip_ids) == 3
    pixels = pygame.surfarray.array3d(app.screen).swapaxes(0, 1)
    lay = layout(app.screen.get_size(), 3, True)
    for rect in lay.clips:  # a text panel with light text on it
        region = pixels[rect.y:rect.bottom, rect.x:rect.right]
        assert (region == PANEL).all(axis=2).mean() > 0.5 and (region.mean(axis=2) > 180).any()
    press(app, pygame.K_2, pygame.K_3)  # clip 2 best, then 3; clip 1 last is implied
    labels = PreferenceStore(run / "labels.sqlite").labels()
    assert labels[0].ranking == (1, 2, 0)
    app.close()


def test_an_empty_queue_shows_waiting_then_new_queries(tmp_path):
    run = make_demo_run(tmp_path / "run", queries=1)
    app = open_app(run)
    press(app, pygame.K_LEFT)
    assert app.session.current is None
    pixels = pygame.surfarray.array3d(app.screen).swapaxes(0, 1)
    assert (pixels.mean(axis=2) > 200).any()  # the "waiting for new clips" text, on the dark background
    store = PreferenceStore(run / "labels.sqlite")
    from pbrl.types import Query

    clip_ids = store.query("q0").clip_ids
    store.add_queries([Query("q-new", clip_ids)], created_at=time.time())
    app.poll(time.time())
    assert app.session.current.query_id == "q-new"
    app.close()


def test_a_directory_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RatingApp(tmp_path / "nope", "ann")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="not a pbrl run directory"):
        RatingApp(tmp_path / "empty", "ann")
    assert list((tmp_path / "empty").iterdir()) == []  # nothing created


def test_a_store_from_a_newer_pbrl_is_refused_unchanged(demo):
    db = sqlite3.connect(demo / "labels.sqlite")
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    before = (demo / "labels.sqlite").read_bytes()
    with pytest.raises(ValueError, match="format 99 was written by a newer pbrl.*Upgrade pbrl"):
        RatingApp(demo, "ann")
    assert (demo / "labels.sqlite").read_bytes() == before


def test_frames_are_a_real_render_of_the_recorded_states(demo):
    from pbrl.media import read_mp4

    store = PreferenceStore(demo / "labels.sqlite")
    clip = store.clip(store.query("q0").clip_ids[0])
    frames, fps = read_mp4(demo / clip.frames_path)
    assert len(frames) == clip.length and fps == 50  # CartPole's frame rate
    import gymnasium as gym

    env = gym.make("pbrl/CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    def cart_x(frame):  # centre of the black cart's pixels
        return np.flatnonzero((frame.mean(axis=2) < 40).any(axis=0)).mean()

    for t in (0, clip.length - 1):
        env.unwrapped.state = clip.states[t]
        expected = env.render()
        assert np.abs(frames[t].astype(int) - expected.astype(int)).mean() < 6  # equal up to MP4 compression
        assert abs(cart_x(frames[t]) - cart_x(expected)) < 2


def test_undo_goes_back_past_the_media_kept_in_memory(demo):
    app = open_app(demo)
    press(app, pygame.K_LEFT, pygame.K_LEFT, pygame.K_LEFT, pygame.K_LEFT, pygame.K_LEFT)
    press(app, *[pygame.K_BACKSPACE] * 5)
    assert app.session.current.query_id == "q0" and "q0" in app.views
    assert outcomes(demo) == []
    press(app, pygame.K_RIGHT)
    assert outcomes(demo) == [("q0", Outcome.RIGHT)]
    app.close()


def test_the_window_says_what_better_means_the_budget_and_when_the_run_is_over(demo):
    from pbrl.store import PreferenceStore as Store

    app = open_app(demo)
    assert app.instructions == "Better: the pole stays upright longer, the cart near the middle of the track."
    store = Store(demo / "labels.sqlite")
    store.set_status(phase="training", budget=60, policy_step=10, total_steps=100, model_version=1)
    app.poll(time.time())
    assert "labels 0/60" in app._status_line()
    press(app, pygame.K_LEFT)
    store.set_status(phase="finished")
    store.withdraw_unanswered("the run had finished")
    app.poll(time.time())
    app.draw()
    assert app.session.current is None and app.idle_screen()[0] == "The run has finished"
    assert "1 from you" in app.idle_screen()[1]
    app.close()
    custom = RatingApp(demo, "bob", size=(640, 400), log=io.StringIO(), instructions="Better: the taller tower.")
    assert custom.instructions == "Better: the taller tower."
    custom.close()


def test_a_demo_says_when_it_is_done(tmp_path):
    run = make_demo_run(tmp_path / "d", queries=1)
    app = open_app(run)
    press(app, pygame.K_RIGHT)
    app.poll(time.time())
    assert app.session.current is None and app.idle_screen()[0] == "Demo done"
    app.close()


def test_clips_loop_on_one_period_and_an_ended_episode_holds_its_last_frame():
    from pbrl.clip_ui.views import ClipView

    short = ClipView("s", [np.zeros((4, 4, 3), np.uint8)] * 5, fps=10)
    assert [short.index_at(t / 10) for t in (0, 4, 5, 7)] == [0, 4, 0, 2]  # alone: its own loop
    assert [short.index_at(t / 10, period=8) for t in (0, 4, 5, 7, 8)] == [0, 4, 4, 4, 0]  # beside a longer clip


def test_an_answer_is_confirmed_and_narrow_windows_keep_the_key_hints(demo):
    from pbrl.clip_ui.app import SHORT, _chosen
    from pbrl.types import Label

    assert _chosen(Label("q", Outcome.LEFT)) == {0} and _chosen(Label("q", Outcome.EQUAL)) == {0, 1}
    assert _chosen(Label("q", None, ranking=(2, 0, 1))) == {2} and _chosen(Label("q", Outcome.SKIP)) == set()
    assert all(any(key in short for key in ("<", ">", "^", "v", "bksp", "spc")) for short in SHORT.values())
    app = open_app(demo, size=(640, 420))
    first = app.session.current.query_id
    press(app, pygame.K_RIGHT)
    assert app._flash[0] == first and app._flash[1] == {1}  # the answered pair, the right clip outlined
    press(app, pygame.K_SPACE)
    assert "PAUSED" in app._status_line() and app.session.paused
    app.close()


def test_responses_to_one_prompt_show_the_prompt_once(tmp_path):
    from pbrl.clip_ui.app import shared_prompt
    from pbrl.clip_ui.views import ClipView

    same = [ClipView("a", text="The film was\ngreat"), ClipView("b", text="The film was\ndull")]
    assert shared_prompt(same) == "The film was"
    assert shared_prompt([*same, ClipView("c", text="This book\nfine")]) is None  # different prompts
    assert shared_prompt([ClipView("v", [np.zeros((2, 2, 3), np.uint8)])]) is None  # frames, not text
    run = make_demo_run(tmp_path / "t", queries=1, k=3, texts=["P\nx", "P\ny", "P\nz"], env_id="pbrl/ResponseGame-v0")
    app = open_app(run)
    assert app.session.current is not None and shared_prompt(app.views[app.session.current.query_id]) == "P"
    app.close()
