"""The rating app's state machine, driven by injected events."""

from pbrl.clip_ui.session import (
    Clicked,
    KeyPressed,
    PendingQuery,
    QueriesAvailable,
    Quit,
    RatingSession,
    Retract,
    SetPaused,
    SetSpeed,
    Show,
    Submit,
    WindowClosed,
)
from pbrl.types import Outcome

Q1, Q2, Q3 = PendingQuery("q1", ("a", "b")), PendingQuery("q2", ("c", "d")), PendingQuery("q3", ("e", "f", "g"))


def started(*queries):
    session = RatingSession(rater="ann")
    commands = session.handle(QueriesAvailable(tuple(queries), now=10.0))
    return session, commands


def test_an_empty_queue_shows_waiting_and_new_queries_are_shown_at_once():
    session, commands = started()
    assert commands == [Show(None)]
    assert session.handle(QueriesAvailable((Q1,), now=11.0)) == [Show(Q1)]
    assert session.handle(QueriesAvailable((Q1, Q2), now=12.0)) == []  # q1 is not queued twice
    assert list(session.queue) == [Q2]


def test_the_papers_keys_answer_a_pair_and_advance():
    session, _ = started(Q1, Q2)
    commands = session.handle(KeyPressed("right", now=13.5))
    label = commands[0].label
    assert (label.query_id, label.outcome, label.rater, label.shown_at, label.answered_at) == ("q1", Outcome.RIGHT,
                                                                                               "ann", 10.0, 13.5)
    assert commands[1] == Show(Q2)
    commands = session.handle(KeyPressed("up", now=15.0))
    assert commands[0].label.outcome is Outcome.EQUAL and commands[1] == Show(None)
    session.handle(QueriesAvailable((Q1, PendingQuery("q4", ("x", "y"))), now=16.0))
    assert session.handle(KeyPressed("down", now=17.0))[0].label.outcome is Outcome.SKIP
    assert session.labels_given == 3


def test_clicks_do_what_keys_do():
    session, _ = started(Q1, Q2)
    assert session.handle(Clicked("clip:0", now=11.0))[0].label.outcome is Outcome.LEFT
    assert session.handle(Clicked("button:equal", now=12.0))[0].label.outcome is Outcome.EQUAL


def test_backspace_retracts_the_last_label_and_shows_that_query_again():
    session, _ = started(Q1, Q2)
    session.handle(KeyPressed("left", now=11.0))
    commands = session.handle(KeyPressed("backspace", now=12.0))
    assert commands == [Retract("q1"), Show(Q1)]
    assert list(session.queue) == [Q2]  # the query that was on screen waits its turn again
    relabel = session.handle(KeyPressed("right", now=14.0))
    assert relabel[0].label.outcome is Outcome.RIGHT and relabel[0].label.shown_at == 12.0
    assert relabel[1] == Show(Q2)
    assert session.handle(Clicked("button:undo", now=15.0)) == [Retract("q1"), Show(Q1)]


def test_nothing_to_undo_and_keys_without_a_query_do_nothing():
    session, _ = started()
    assert session.handle(KeyPressed("backspace", now=11.0)) == []
    assert session.handle(KeyPressed("left", now=11.0)) == []


def test_ranking_mode_with_number_keys():
    session, commands = started(Q3)
    assert commands == [Show(Q3)]
    assert session.handle(KeyPressed("2", now=11.0)) == []
    assert session.handle(KeyPressed("2", now=11.5)) == []  # already ranked: ignored
    assert session.handle(KeyPressed("9", now=11.6)) == []  # no such clip
    session.handle(KeyPressed("3", now=11.7))
    assert session.ranking == [], "the last clip is implied and the ranking submitted"
    label = session.history[-1]
    assert label.ranking == (1, 2, 0) and label.outcome is None


def test_backspace_inside_a_ranking_removes_the_last_entry_first():
    session, _ = started(Q3)
    session.handle(KeyPressed("3", now=11.0))
    assert session.handle(KeyPressed("backspace", now=11.5)) == []
    assert session.ranking == []
    session.handle(KeyPressed("1", now=12.0))
    commands = session.handle(KeyPressed("2", now=12.5))
    assert isinstance(commands[0], Submit) and commands[0].label.ranking == (0, 1, 2)


def test_pause_and_speed():
    session, _ = started(Q1)
    assert session.handle(KeyPressed("space", now=11.0)) == [SetPaused(True)]
    assert session.handle(Clicked("button:pause", now=11.0)) == [SetPaused(False)]
    assert session.handle(KeyPressed("plus", now=11.0)) == [SetSpeed(2.0)]
    for _ in range(5):
        session.handle(KeyPressed("plus", now=11.0))
    assert session.speed == 4.0
    for _ in range(9):
        session.handle(KeyPressed("minus", now=11.0))
    assert session.speed == 0.25


def test_closing_the_window_mid_clip_writes_no_label():
    session, _ = started(Q1, Q2)
    assert session.handle(WindowClosed(now=11.0)) == [Quit()]
    assert session.handle(KeyPressed("left", now=12.0)) == []
    assert session.history == []
    session, _ = started(Q1)
    assert session.handle(KeyPressed("escape", now=11.0)) == [Quit()]


def test_a_refused_label_is_not_counted_and_the_undo_button_edits_a_ranking_first():
    from pbrl.clip_ui.session import LabelRefused

    session, _ = started(Q1, Q2, Q3)
    session.handle(KeyPressed("left", now=11.0))
    assert session.labels_given == 1
    session.handle(LabelRefused("q1", now=11.1))  # another rater held q1
    assert session.labels_given == 0
    session.handle(KeyPressed("left", now=12.0))  # q2
    session.handle(KeyPressed("2", now=13.0))  # q3: ranking begun
    assert session.handle(Clicked("button:undo", now=14.0)) == [] and session.ranking == []
    assert session.current.query_id == "q3" and session.labels_given == 1


def test_a_finished_run_withdraws_what_is_held_and_nothing_can_be_undone():
    from pbrl.clip_ui.session import RunEnded

    session, _ = started(Q1, Q2)
    session.handle(KeyPressed("left", now=11.0))
    assert session.handle(RunEnded(now=12.0)) == [Show(None)]
    assert session.current is None and not session.queue and session.ended
    assert session.handle(KeyPressed("backspace", now=13.0)) == []  # the trainer used that label
    assert session.handle(QueriesAvailable((Q3,), now=14.0)) == [] and session.current is None
    assert session.labels_given == 1
