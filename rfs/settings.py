"""Run settings: how an evaluation solves each problem, and whether the settings fit together (chapters 3-5).

A run is decided by its method (chapter 3's greedy answer, chapter 4's self-consistency and best-of-N,
chapter 5's self-refinement) and that method's knobs. :class:`RunSettings` holds them, fills in each method's
defaults, refuses settings that do not fit together, and is what every results record stores
(:meth:`RunSettings.record`). It needs no torch, so the ``rfs`` command checks its flags with it before it
loads anything; ``rfs.evaluate`` runs the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

# How a problem's answer is chosen. On the command line, "cot" is short for greedy with the step-by-step prompt.
METHODS = {
    "greedy": "one greedy solution",
    "self-consistency": "a majority vote over sampled solutions",
    "best-of-n": "the sampled solution a scorer rates highest",
    "self-refine": "the greedy solution, critiqued and revised round by round",
}
SCORER_NAMES = ("logprob", "mean-logprob", "heuristic")  # the rfs.scaling.SCORERS that rate a solution
CRITIC_NAMES = ("verifier", "self-check", "prompt")  # the rfs.refine.CRITICS that judge an attempt


@dataclass(frozen=True)
class RunSettings:
    """The settings that decide a run's results: how each problem is solved (chapters 3-5).

    Leave a field at None for its method's default: without a method, one sample is greedy and several take a
    vote (self-consistency); self-consistency and best-of-n draw 8 samples at temperature 0.8 (they must
    differ); the prompt is cot for the methods of chapters 4-5 and plain otherwise. ``scorer`` (an
    ``rfs.scaling.SCORERS`` name) rates the samples of best-of-n and the attempts of self-refine; ``rounds``,
    ``critic`` (``rfs.refine.CRITICS``; None: the model's, from ``rfs.prompts.defaults_for``) and
    ``check_samples`` (sampled checks per claim that vote) are self-refine's. Settings that do not fit together
    raise a ``ValueError`` that says what to use instead.
    """

    method: str | None = None  # a METHODS name
    prompt: str | None = None  # plain, cot or chat (rfs.prompts)
    thinking: bool | None = None  # with prompt="chat": think first (default on)
    samples: int | None = None  # solutions per problem
    temperature: float | None = None  # 0: greedy
    max_new_tokens: int | None = None  # default: what the model's answers need (rfs.prompts.defaults_for)
    seed: int = 0
    scorer: str = "mean-logprob"
    rounds: int = 2
    critic: str | None = None  # default: the model's critic (self-check for pocket models, prompt for Qwen3)
    check_samples: int = 1

    def __post_init__(self) -> None:
        method = self.method or ("self-consistency" if (self.samples or 1) > 1 else "greedy")
        sampled = method in ("self-consistency", "best-of-n")
        prompt = self.prompt or ("chat" if self.thinking is not None else "plain" if method == "greedy" else "cot")
        samples = self.samples or (8 if sampled else 1)
        temperature = self.temperature if self.temperature is not None else 0.8 if sampled else 0.0
        check_settings_fit(method, prompt, self.thinking, samples, temperature, self.scorer, self.critic)
        thinking = self.thinking is not False if prompt == "chat" else None
        resolved = dict(method=method, prompt=prompt, samples=samples, temperature=temperature, thinking=thinking)
        for name, value in resolved.items():
            object.__setattr__(self, name, value)  # a frozen dataclass fills in its own defaults, once

    def record(self) -> dict:
        """The settings as each results record stores them: only those this run's method uses."""
        stored = {"method": self.method, "prompt": self.prompt, "thinking": self.thinking,
                  "max_new_tokens": self.max_new_tokens, "seed": self.seed}
        if self.method == "self-refine":  # always greedy
            stored |= {"rounds": self.rounds, "critic": self.critic, "scorer": self.scorer}
            return stored | ({"check_samples": self.check_samples} if self.critic in ("self-check", None) else {})
        stored["temperature"] = self.temperature
        if self.method != "greedy":
            stored["samples"] = self.samples
        return stored | ({"scorer": self.scorer} if self.method == "best-of-n" else {})


def check_settings_fit(method: str, prompt: str, thinking: bool | None, samples: int, temperature: float,
                       scorer: str, critic: str | None) -> None:
    """Raise a ``ValueError`` saying what to use instead when run settings do not fit together."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {list(METHODS)}")
    if scorer not in SCORER_NAMES or critic not in (*CRITIC_NAMES, None):
        raise ValueError(f"choose a scorer from {list(SCORER_NAMES)} and a critic from {list(CRITIC_NAMES)}")
    if thinking is not None and prompt != "chat":
        raise ValueError(f"thinking on or off applies to the chat prompt, not to the {prompt} prompt: "
                         "drop thinking, or use prompt='chat'")
    if method in ("greedy", "self-refine") and samples != 1:
        raise ValueError(f"{method} gives one solution per problem: for several samples use --method "
                         f"self-consistency or best-of-n")
    if method == "self-refine" and temperature:
        raise ValueError("self-refine decodes greedily (the first solution, the checks and the revisions): "
                         "drop the temperature")
