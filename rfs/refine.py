"""Self-refinement: solve, critique, revise, and keep the best attempt (chapter 5).

A round of refinement asks a critic what is wrong with the current attempt and revises the attempt where the
critic points. Refinement stops after a chosen number of rounds, when the critic accepts an attempt, or when a
revision by the model's own critique reaches the same answer as the attempt before it (another round would most
likely change nothing).
Three critics (``CRITICS``); which ones suit a model, and its default, come from ``rfs.prompts.defaults_for``:

- ``"verifier"`` compares the final answer with the reference answer. That is an ORACLE: it reads the answer
  key, so it shows how far refinement could go with a perfect critic (an upper bound), and it cannot be used
  where the answer is unknown. It only says "wrong", so its revision is a fresh sample.
- ``"self-check"`` needs no reference: the model checks its own steps. A small model cannot follow a critique
  written in words, so the check is mechanical. Every arithmetic claim in the solution (``483 + 275 = 758.``)
  is asked again as a fresh problem (``What is 483 + 275?``), and the first claim whose recomputation disagrees
  is the critique ("step 2: the check gives 758, not 768"). The revision keeps the solution up to that value,
  writes the checked value instead, and lets the model continue from there. A greedy check solves a claim the
  way the solution did and so tends to repeat its mistake; with ``check_samples`` above 1, each claim is solved
  by several sampled checks that vote (chapter 4's self-consistency). It is POCKET-ONLY: it reads the
  whole-number claims pocket models write, and is refused on real models. It is the pocket models' default.
- ``"prompt"`` is the book's self-refinement for models that follow instructions (real Qwen3; the default
  there). The model reviews its own solution in words against a rubric (is each step right? is the final
  answer right?) and ends with a verdict; a solution judged wrong is rewritten from a prompt that holds the
  problem, the previous solution and the review.

Tokens spent count every generated token: solutions, revisions and the checks' own solutions. Prompts are not
counted; the model reads them in one parallel pass, far cheaper per token than generating.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
from tqdm.auto import tqdm

from rfs.generate import Completion, generate
from rfs.prompts import build_prompt, defaults_for
from rfs.qwen3 import Qwen3
from rfs.scaling import SCORERS, majority_vote, sample_solutions
from rfs.tokenizer import Tokenizer
from rfs.verify import extract_answer, grade_answer

CHECK_TOKENS = 160  # a check solves one small step: its solution is short
RESAMPLE_TEMPERATURE = 0.8  # a fresh sample after a bare "wrong" (greedy decoding would repeat the attempt)
CHECK_TEMPERATURE = 0.8  # sampled checks of one claim, which vote


@dataclass(frozen=True)
class Options:
    """How attempts are written and scored; shared by every step of refinement."""

    prompt: str = "cot"  # prompt style of the solutions (see rfs.prompts)
    thinking: bool | None = None  # with prompt="chat": think first (default on)
    max_new_tokens: int | None = None  # for a solution or the rest of a revision (default: the model's)
    scorer: str = "mean-logprob"  # the rfs.scaling.SCORERS entry that ranks attempts
    batch_size: int | None = None  # prompts generated together (default: all at once)
    check_samples: int = 1  # self-check: one greedy check per claim, or a vote of this many sampled checks


DEFAULTS = Options()


@dataclass
class Attempt:
    """One solution of a problem, as first written or as revised."""

    text: str  # the solution, without the prompt
    answer: str | None  # its final answer (rfs.verify.extract_answer)
    score: float  # the scorer's rating of the whole text; higher is better
    tokens: int  # tokens generated to make it (for a revision: also the checks that led to it)
    feedback: str | None = None  # the critique this attempt revises; None for a first attempt


@dataclass
class Critique:
    """A critic's verdict on one attempt."""

    accepted: bool
    feedback: str = ""  # what is wrong, in words
    fix: str | None = None  # self-check: the solution up to the wrong value, with the checked value in its place
    tokens: int = 0  # tokens the critic generated (the checks' solutions, or the review)
    rewrite: str | None = None  # prompt critic: the prompt that asks for a rewritten solution


# --- Writing and scoring attempts ----------------------------------------------------------------------------

def complete(model: Qwen3, tokenizer: Tokenizer, prompts: list[str], options: Options, temperature: float = 0.0,
             seed: int = 0) -> list[Completion]:
    """One completion of each prompt, at most ``options.max_new_tokens`` long (default: the model's)."""
    max_new_tokens = options.max_new_tokens or defaults_for(tokenizer).max_new_tokens
    completions = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens,
                           temperature=temperature, seed=seed, batch_size=options.batch_size)
    return [c for [c] in completions]


def continue_solutions(model: Qwen3, tokenizer: Tokenizer, problems: list[str], prefixes: list[str],
                       options: Options, temperature: float = 0.0, seed: int = 0) -> list[Completion]:
    """Continue the solution of each problem from the start of it written in ``prefixes`` ("" = from scratch)."""
    prompts = [build_prompt(tokenizer, p, options.prompt, options.thinking) + prefix
               for p, prefix in zip(problems, prefixes, strict=True)]
    return complete(model, tokenizer, prompts, options, temperature, seed)


@torch.inference_mode()
def text_logprobs(model: Qwen3, tokenizer: Tokenizer, prompt: str, text: str) -> list[float]:
    """The model's log-probability of each token of ``text`` written after ``prompt``, in one forward pass.

    Revisions need this: part of their text was written by the critic, not sampled from the model.
    """
    context, ids = tokenizer.encode(prompt), tokenizer.encode(text)
    tokens = torch.tensor([context + ids], device=next(model.parameters()).device)  # (1, T)
    logits = model(tokens)[0, len(context) - 1:-1].float()  # (len(ids), V): position t predicts token t + 1
    return logits.log_softmax(-1).gather(-1, tokens[0, len(context):, None])[:, 0].tolist()


def make_attempt(model: Qwen3, tokenizer: Tokenizer, problem: str, text: str, finished: bool, tokens: int,
                 options: Options, feedback: str | None = None) -> Attempt:
    """An :class:`Attempt` for the solution ``text``, scored as a whole by ``options.scorer``."""
    prompt = build_prompt(tokenizer, problem, options.prompt, options.thinking)
    scored = Completion(text, tokenizer.encode(text), "stop" if finished else "length",
                        text_logprobs(model, tokenizer, prompt, text))
    return Attempt(text, extract_answer(text), SCORERS[options.scorer](scored), tokens, feedback)


def first_attempts(model: Qwen3, tokenizer: Tokenizer, problems: list[str],
                   options: Options = DEFAULTS) -> list[Attempt]:
    """The greedy solution of each problem: where refinement starts."""
    completions = continue_solutions(model, tokenizer, problems, [""] * len(problems), options)
    return [make_attempt(model, tokenizer, p, c.text, c.finish_reason == "stop", len(c.token_ids), options)
            for p, c in zip(problems, completions, strict=True)]


# --- Critics -------------------------------------------------------------------------------------------------

def verifier_critique(model: Qwen3, tokenizer: Tokenizer, problems: list[str], attempts: list[Attempt],
                      references: list[str | None], options: Options) -> list[Critique]:
    """ORACLE critic: accept an attempt whose answer matches the reference answer (an upper bound, not a method)."""
    if any(r is None for r in references):
        raise ValueError("the verifier critic is an oracle: it needs the reference answer of every problem")
    return [Critique(True) if a.answer is not None and grade_answer(a.answer, r)
            else Critique(False, f"the answer {a.answer} is wrong (oracle: checked against the reference)")
            for a, r in zip(attempts, references, strict=True)]


# An arithmetic claim: "483 + 275 = 758", "11 - 129 = -118", "40 \times 7 = 280" (whole numbers only), not the
# tail of a longer sum ("8 + 2 + 1 = 11" holds no claim "2 + 1 = 11"). Divisions ("42 \div 2 = 21", "x = -8" after
# dividing both sides) are left out: no pocket problem asks for a quotient, so the pocket models cannot
# recompute one as a problem of its own.
CLAIM = re.compile(r"(?<![\d.])(?<![+-] )(?<!\\times )(-?\d+) (\+|-|\\times) (-?\d+) = (-?\d+)(?!\d)")


@dataclass
class Claim:
    """One arithmetic claim in a solution, such as ``483 + 275 = 758``."""

    expression: str  # the left side: "483 + 275"
    value: str  # the claimed value: "758"
    step: int  # the line of the solution it is on, from 1
    start: int  # where the value starts in the solution text
    end: int  # where it ends

    @property
    def question(self) -> str:
        """The claim asked as a fresh problem, the way pocket problems ask: ``What is 483 + 275?``.

        A product is asked with the larger factor first (``44 \\times 9``, not ``9 \\times 44``), as in the
        pocket problems; the model is far more reliable on questions shaped like the ones it trained on.
        """
        left, op, right = self.expression.split(" ")
        if op == "\\times" and int(right) > int(left):
            left, right = right, left
        return f"What is {left} {op} {right}?"


def find_claims(text: str) -> list[Claim]:
    """The arithmetic claims of a solution, in order."""
    return [Claim(f"{m[1]} {m[2]} {m[3]}", m[4], text.count("\n", 0, m.start()) + 1, m.start(4), m.end(4))
            for m in CLAIM.finditer(text)]


def checked_value(check: str, question: str) -> str | None:
    """What the solution ``check`` of a claim's ``question`` says its value is.

    That is the value it writes for the asked computation (``483 + 275 = ...``) if it writes one, else its final
    answer: a small model sometimes goes on after the step it was asked about (adding an imagined third number).
    """
    asked = question.removeprefix("What is ").removesuffix("?")
    for m in CLAIM.finditer(check):
        if f"{m[1]} {m[2]} {m[3]}" == asked:
            return m[4]
    return extract_answer(check)


def judge_claims(text: str, checked: list[tuple[Claim, list[Completion]]]) -> Critique:
    """Self-check's verdict on the solution ``text`` from each of its claims with the solutions of its check.

    A claim's checked value is the vote of its check solutions (one greedy solution, or several samples). The
    first claim whose checked value differs is the critique. A check that reaches no answer does not count
    against its claim; a solution whose checks all agree (or that makes no claims) is accepted.
    """
    tokens = sum(len(c.token_ids) for _, checks in checked for c in checks)  # every check was paid for, used or not
    for claim, checks in checked:
        value = majority_vote([checked_value(c.text, claim.question) for c in checks])
        if value is not None and not grade_answer(value, claim.value):
            # The revision starts from the text up to this value, the checked value in its place, and the
            # character after it ("." or ","), so that the model goes on after the number rather than extend it.
            fix = text[:claim.start] + value + text[claim.end:claim.end + 1]
            feedback = f"step {claim.step}: the check gives {value}, not {claim.value} for {claim.expression}"
            return Critique(False, feedback, fix, tokens)
    return Critique(True, tokens=tokens)


def self_check_critique(model: Qwen3, tokenizer: Tokenizer, problems: list[str], attempts: list[Attempt],
                        references: list[str | None], options: Options) -> list[Critique]:
    """POCKET-ONLY critic without the reference (``problems`` and ``references`` are unused): the model
    recomputes each attempt's arithmetic claims.

    All claims of all attempts are asked as fresh problems and solved together with the step-by-step prompt:
    greedily, or ``options.check_samples`` times at ``CHECK_TEMPERATURE`` (sharing each question's prefill);
    :func:`judge_claims` compares each check with its claim.
    """
    claims = [find_claims(a.text) for a in attempts]
    questions = [c.question for cs in claims for c in cs]
    if options.check_samples == 1:
        check_options = replace(options, prompt="cot", thinking=None, max_new_tokens=CHECK_TOKENS)
        solved = [[c] for c in continue_solutions(model, tokenizer, questions, [""] * len(questions), check_options)]
    else:
        solved = sample_solutions(model, tokenizer, questions, options.check_samples, CHECK_TEMPERATURE,
                                  max_new_tokens=CHECK_TOKENS, batch_size=options.batch_size)
    checks = iter(solved)
    return [judge_claims(a.text, [(c, next(checks)) for c in cs]) for a, cs in zip(attempts, claims, strict=True)]


# The prompt critic's two prompts. The review ends with a verdict line that :func:`read_verdict` finds.
CRITIQUE_PROMPT = (
    "You are a careful math teacher. Check a student's solution.\n\n"
    "Problem:\n{problem}\n\nSolution:\n{solution}\n\n"
    "Check it against this rubric:\n"
    "1. Is each step right? Name the first wrong step, if any, and say what it should be.\n"
    "2. Is the final answer right?\n"
    "End with one line: VERDICT: CORRECT or VERDICT: WRONG.\n")
REFINE_PROMPT = (
    "You are a careful math student. Your solution was checked; improve it.\n\n"
    "Problem:\n{problem}\n\nYour solution:\n{solution}\n\nThe check:\n{review}\n\n"
    "Write a complete corrected solution that fixes what the check found. "
    "Write the final answer in \\boxed{{}}.\n")
VERDICT = re.compile(r"VERDICT:\W*(CORRECT|WRONG|INCORRECT)", re.IGNORECASE)


def final_text(text: str) -> str:
    """What a solution or review says after its thinking (the text after ``</think>``; all of it without one)."""
    return text.rsplit("</think>", 1)[-1].strip()


def instruction_prompt(tokenizer: Tokenizer, message: str, options: Options, opening: str) -> str:
    """``message`` given to the model the way its solutions were asked: as a user message in the chat format
    (thinking as ``options`` say), or as plain text followed by ``opening`` for a base model to continue."""
    if options.prompt == "chat":
        return tokenizer.render_chat([{"role": "user", "content": message}], thinking=options.thinking is not False)
    return f"{message}\n{opening}"


def critique_prompt(tokenizer: Tokenizer, problem: str, attempt: Attempt, options: Options) -> str:
    """The prompt that asks the model to review ``attempt`` with the rubric of ``CRITIQUE_PROMPT``."""
    message = CRITIQUE_PROMPT.format(problem=problem, solution=final_text(attempt.text))
    return instruction_prompt(tokenizer, message, options, "Review:\n")


def refine_prompt(tokenizer: Tokenizer, problem: str, attempt: Attempt, review: str, options: Options) -> str:
    """The prompt that asks for a rewrite of ``attempt`` that fixes what ``review`` found (``REFINE_PROMPT``)."""
    message = REFINE_PROMPT.format(problem=problem, solution=final_text(attempt.text), review=final_text(review))
    return instruction_prompt(tokenizer, message, options, "Corrected solution:\n")


def read_verdict(review: str) -> bool | None:
    """True when a review's last verdict line says CORRECT, False when it says WRONG, None when it has none.

    A thinking model's review is read after its thinking (:func:`final_text`), where it may weigh both verdicts.
    """
    found = VERDICT.findall(final_text(review))
    return found[-1].upper() == "CORRECT" if found else None


def prompt_critique(model: Qwen3, tokenizer: Tokenizer, problems: list[str], attempts: list[Attempt],
                    references: list[str | None], options: Options) -> list[Critique]:
    """Critic in words, without the reference (``references`` is unused): the model reviews each attempt.

    All reviews are written together, greedily. An attempt is accepted only when its review's verdict says
    CORRECT; a review that says WRONG, or gives no verdict, leads to a rewrite from :func:`refine_prompt`.
    """
    prompts = [critique_prompt(tokenizer, p, a, options) for p, a in zip(problems, attempts, strict=True)]
    reviews = complete(model, tokenizer, prompts, options)
    verdicts = []
    for problem, attempt, review in zip(problems, attempts, reviews, strict=True):
        accepted = read_verdict(review.text) is True
        rewrite = None if accepted else refine_prompt(tokenizer, problem, attempt, review.text, options)
        verdicts.append(Critique(accepted, review.text, tokens=len(review.token_ids), rewrite=rewrite))
    return verdicts


Critic = Callable[[Qwen3, Tokenizer, list[str], list[Attempt], list[str | None], Options], list[Critique]]
CRITICS: dict[str, Critic] = {"verifier": verifier_critique, "self-check": self_check_critique,
                              "prompt": prompt_critique}


def choose_critic(tokenizer: Tokenizer, critic: str | None) -> str:
    """``critic``, or the model's default when None (``rfs.prompts.defaults_for``), refused where it cannot work."""
    defaults = defaults_for(tokenizer)
    critic = critic or defaults.critic
    if critic not in CRITICS:
        raise ValueError(f"unknown critic {critic!r}: choose one of {list(CRITICS)}")
    if critic not in defaults.critics:
        raise ValueError(f"the {critic} critic cannot judge a {tokenizer.kind} model's solutions: choose one of "
                         f"{list(defaults.critics)}" + (" (self-check is pocket-only: it recomputes the arithmetic "
                         "claims pocket models write, such as 483 + 275 = 758; use the prompt critic, where the "
                         "model reviews its solution in words)" if critic == "self-check" else ""))
    return critic


def critique(model: Qwen3, tokenizer: Tokenizer, attempts: list[Attempt], critic: str | None = None,
             references: list[str | None] | None = None, options: Options = DEFAULTS,
             problems: list[str] | None = None) -> list[Critique]:
    """The verdict of ``CRITICS[critic]`` on each attempt (default: the model's critic, :func:`choose_critic`).

    ``references`` are needed by the verifier only, ``problems`` by the prompt critic only.
    """
    critic = choose_critic(tokenizer, critic)
    if critic == "prompt" and problems is None:
        raise ValueError("the prompt critic shows the model each problem: pass problems")
    return CRITICS[critic](model, tokenizer, problems or [""] * len(attempts), attempts,
                           references or [None] * len(attempts), options)


# --- Revising, one round, many rounds ------------------------------------------------------------------------

def revise(model: Qwen3, tokenizer: Tokenizer, problems: list[str], attempts: list[Attempt],
           critiques: list[Critique], options: Options = DEFAULTS, seed: int = 0) -> list[Attempt]:
    """Revise each attempt where its critique points.

    A critique with a fix (self-check: the text up to the wrong value, the checked value in its place) is
    continued greedily by the model. A critique with a rewrite prompt (the prompt critic) is answered greedily
    with a whole new solution. A bare "wrong" (the verifier) gives a fresh solution sampled at
    ``RESAMPLE_TEMPERATURE`` with ``seed``: a pocket model cannot read a critique, and greedy decoding would
    only write the same solution again.
    """
    prefixes = [c.fix or "" for c in critiques]
    prompts = [c.rewrite or build_prompt(tokenizer, p, options.prompt, options.thinking) + prefix
               for p, c, prefix in zip(problems, critiques, prefixes, strict=True)]
    continuations: dict[int, Completion] = {}
    for temperature, rows in [(0.0, [i for i, c in enumerate(critiques) if c.fix or c.rewrite]),
                              (RESAMPLE_TEMPERATURE, [i for i, c in enumerate(critiques) if not (c.fix or c.rewrite)])]:
        if rows:
            done = complete(model, tokenizer, [prompts[i] for i in rows], options, temperature, seed)
            continuations |= dict(zip(rows, done, strict=True))
    return [make_attempt(model, tokenizer, problems[i], prefixes[i] + c.text, c.finish_reason == "stop",
                         critiques[i].tokens + len(c.token_ids), options, critiques[i].feedback)
            for i, c in sorted(continuations.items())]


def refine_round(model: Qwen3, tokenizer: Tokenizer, problem: str, attempt: Attempt, critic: str | None = None,
                 reference: str | None = None, options: Options = DEFAULTS, seed: int = 0) -> Attempt | None:
    """One round of refinement of one problem: critique ``attempt``, then revise it.

    Returns None when the critic accepts the attempt (refinement stops there), else the revised attempt.
    ``critic`` defaults to the model's (:func:`choose_critic`). ``seed`` seeds the fresh sample that follows a
    bare "wrong" from the verifier. :func:`self_refine` runs rounds like this one for many problems at once
    (round ``r`` with ``seed + r``).
    """
    [verdict] = critique(model, tokenizer, [attempt], critic, [reference], options, [problem])
    if verdict.accepted:
        return None
    [revised] = revise(model, tokenizer, [problem], [attempt], [verdict], options, seed)
    return revised


def keep_best(attempts: list[Attempt], critic: str) -> int:
    """Index of the attempt to answer with.

    The verifier is never wrong and rejected every earlier attempt, so with it the last attempt is the only one
    that may be right. Self-check and the prompt critic can be wrong both ways (the model may misjudge a right
    step, and accept a wrong one), so their verdicts decide what to revise but not what to answer: the highest
    score wins, the earliest on ties.
    """
    if critic == "verifier":
        return len(attempts) - 1
    return max(range(len(attempts)), key=lambda i: attempts[i].score)


def same_answer(a: str | None, b: str | None) -> bool:
    """Whether two final answers are the same (equivalent spellings count as the same; so do two missing ones)."""
    return a == b or (a is not None and b is not None and grade_answer(a, b))


@dataclass
class RefineResult:
    """The refinement of one problem, round by round (round 0 is the first attempt)."""

    attempts: list[Attempt]  # the first solution, then one revision per round that found a flaw
    kept_by_round: list[int] = field(default_factory=lambda: [0])  # the attempt kept after each round
    tokens_by_round: list[int] = field(default_factory=list)  # tokens spent up to the end of each round
    stopped: str | None = None  # "accepted", "unchanged" (a revision kept the answer) or "rounds"

    @property
    def tokens(self) -> int:
        """All tokens spent on this problem: its solutions and their checks."""
        return self.tokens_by_round[-1]


def self_refine(model: Qwen3, tokenizer: Tokenizer, problems: list[str], rounds: int = 2,
                critic: str | None = None, references: list[str] | None = None, scorer: str = "mean-logprob",
                prompt: str = "cot", thinking: bool | None = None, max_new_tokens: int | None = None, seed: int = 0,
                batch_size: int | None = None, progress: bool = False, check_samples: int = 1) -> list[RefineResult]:
    """Refine the greedy solution of each problem for up to ``rounds`` rounds; one :class:`RefineResult` each.

    Each round does what :func:`refine_round` does, for all problems still being refined at once: one batched
    critique, then one batched revision (round ``r`` resamples with seed ``seed + r``); ``critic`` defaults to the
    model's (:func:`choose_critic`). A problem stops when the critic accepts its attempt or, with self-check or
    the prompt critic, when a revision keeps the answer (the verifier's revisions
    are fresh samples, each as likely as the last to differ); the attempt kept is chosen by :func:`keep_best`,
    with attempts rated by ``SCORERS[scorer]``. Round ``r`` never depends on how many rounds
    follow, so the state after round ``r`` of a longer run is exactly an ``r``-round run.
    ``check_samples`` above 1 makes each self-check a vote of that many sampled checks (see :class:`Options`).
    With ``critic="verifier"`` the results are an ORACLE upper bound (the critic reads ``references``).
    """
    critic = choose_critic(tokenizer, critic)  # refused before any solution is written
    options = Options(prompt, thinking, max_new_tokens, scorer, batch_size, check_samples)
    results = [RefineResult([a], tokens_by_round=[a.tokens])
               for a in first_attempts(model, tokenizer, problems, options)]
    for round_ in tqdm(range(1, rounds + 1), desc="refining", unit="round", disable=not progress, leave=False):
        active = [i for i, r in enumerate(results) if r.stopped is None]
        if not active:
            break
        attempts = [results[i].attempts[-1] for i in active]
        verdicts = critique(model, tokenizer, attempts, critic, [references[i] for i in active] if references else None,
                            options, [problems[i] for i in active])
        todo = [k for k, v in enumerate(verdicts) if not v.accepted]  # positions in `active`
        revised = iter(revise(model, tokenizer, [problems[active[k]] for k in todo], [attempts[k] for k in todo],
                              [verdicts[k] for k in todo], options, seed + round_))
        for i, attempt, verdict in zip(active, attempts, verdicts, strict=True):
            result = results[i]
            if verdict.accepted:
                result.stopped, spent = "accepted", verdict.tokens
            else:
                result.attempts.append(next(revised))
                spent = result.attempts[-1].tokens  # it includes the checks that led to it
                if critic != "verifier" and same_answer(attempt.answer, result.attempts[-1].answer):
                    result.stopped = "unchanged"
            result.tokens_by_round.append(result.tokens_by_round[-1] + spent)
            result.kept_by_round.append(keep_best(result.attempts, critic))
    for result in results:
        result.stopped = result.stopped or "rounds"
    return results

