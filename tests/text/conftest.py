import pytest

from pbrl.text.sft import SFTConfig, train_sft


@pytest.fixture(scope="session")
def sft_dir(tmp_path_factory):
    """A tiny arithmetic SFT model (40 steps): enough to wire things, not to be good."""
    out = tmp_path_factory.mktemp("sft")
    train_sft(SFTConfig(task="arithmetic", steps=40, batch_size=16, corpus_size=500), out)
    return out
