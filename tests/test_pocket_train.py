"""Training the pocket models: a toy run trains, saves a loadable model, and resumes exactly."""

import json

import pytest
import torch

from rfs.hub import load_model, load_tokenizer
from rfs.pocket import train as pocket_train


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_quick_base_then_reasoning(tmp_path):
    base = pocket_train.train("base", work_dir=tmp_path / "base", quick=True, progress=False)
    log = [json.loads(line) for line in (tmp_path / "base" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["loss"] < log[0]["loss"]
    assert (tmp_path / "base" / "loss.png").stat().st_size > 1000
    model, tok = load_model(base, device="cpu"), load_tokenizer(base)
    assert tok.encode("2025") == [tok.encode(d)[0] for d in "2025"]  # every digit its own token
    assert model.config.vocab_size >= tok.vocab_size
    reasoning = pocket_train.train("reasoning", work_dir=tmp_path / "reasoning", quick=True, init=str(base),
                                   progress=False)
    assert load_model(reasoning, device="cpu").config == model.config


@pytest.mark.slow  # over 10 s on a busy 2-core machine
def test_resume_gives_the_same_model_as_an_uninterrupted_run(tmp_path, monkeypatch):
    monkeypatch.setattr(pocket_train, "CHECKPOINT_EVERY", 5)
    straight = pocket_train.train("base", work_dir=tmp_path / "a", quick=True, progress=False)
    save = pocket_train.save_checkpoint

    def save_then_interrupt(path, model, optimizer, step):
        save(path, model, optimizer, step)
        if step == 10:
            raise KeyboardInterrupt  # as if Ctrl-C came right after the checkpoint of step 10

    monkeypatch.setattr(pocket_train, "save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        pocket_train.train("base", work_dir=tmp_path / "b", quick=True, progress=False)
    monkeypatch.setattr(pocket_train, "save_checkpoint", save)
    resumed = pocket_train.train("base", work_dir=tmp_path / "b", quick=True, progress=False)
    a, b = load_model(straight, device="cpu"), load_model(resumed, device="cpu")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, msg=name)


def test_unknown_preset():
    with pytest.raises(KeyError):
        pocket_train.train("huge", quick=True)
