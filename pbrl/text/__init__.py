"""The language-model side of pbrl: text as a one-step "response game".

The prompt is the state, the whole response is the action, and a (hidden) scorer or a
reward model learned from compared responses gives the reward; the env is
``gym.make("pbrl/ResponseGame-v0", task=...)``.
"""

from pbrl.text.tasks import ArithmeticTask, CallableTask, SentimentTask, TextTask, make_task
from pbrl.text.tokenizer import BOS, EOS, PAD, UNK, CharTokenizer

__all__ = ["BOS", "EOS", "PAD", "UNK", "ArithmeticTask", "CallableTask", "CharTokenizer", "SentimentTask", "TextTask",
           "make_task"]
