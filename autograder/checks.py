"""The checks that the assignments' test cells call: the visible self-check, run in the learner's own notebook.

``check_rms_norm(rms_norm)`` calls the learner's function on the part's visible cases, through the same plain-data
round trip the grader uses, and raises ``AssertionError`` saying what was expected, what came back, and a hint.
While it runs, the rfs functions the part asks for are traps. Where the hidden cases are at hand (the instructor's
course, e.g. under plain ``nbgrader autograde``) they run next; a learner's machine has none and needs none. The
test cells hold no hidden tests of their own, so nbgrader's checksum of a locked test cell is the same in the
instructor's and the learner's notebook. The grader (``python -m autograder grade``) does not use this module:
it judges in its own process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autograder.assignments import ASSIGNMENTS, hidden_cases
from autograder.part import verdict
from autograder.plain import dumps, loads
from autograder.shim import invoke, traps_during


def find_solutions(assignment: str) -> Path | None:
    """The instructor's solutions folder, from the working directory up (nbgrader runs in the course), if any."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "solutions" / assignment / "hidden_cases.py").is_file():
            return folder / "solutions"
    return None


def check_part(assignment: str, name: str, functions: dict[str, Callable]) -> None:
    """Run part ``name`` of ``assignment`` on ``functions`` (name -> the learner's function): its visible cases,
    then its hidden ones where this machine has them; raise AssertionError at the first failure."""
    [part] = [p for p in ASSIGNMENTS[assignment] if p.name == name]
    solutions = find_solutions(assignment)
    hidden = hidden_cases(assignment, solutions) if solutions else None
    runs = ((False, part.visible()), (True, hidden[name] if hidden else []))  # built with the references intact
    with traps_during(list(part.references)):
        for is_hidden, cases in runs:
            for case in cases:
                result = loads(invoke(functions[case.function], dumps((list(case.args), list(case.keep)))))
                if problem := verdict(case, result, hidden=is_hidden):
                    raise AssertionError(f"{problem}. Hint: {part.hint}")


def check_rms_norm(rms_norm: Callable) -> None:
    """Chapter 2, part 1: ``rms_norm(x, weight, eps)``."""
    check_part("ch02", "rms_norm", {"rms_norm": rms_norm})


def check_rope(rope_cos_sin: Callable, apply_rope: Callable) -> None:
    """Chapter 2, part 2: ``rope_cos_sin(positions, head_dim, theta)`` and ``apply_rope(x, cos, sin)``."""
    check_part("ch02", "rope", {"rope_cos_sin": rope_cos_sin, "apply_rope": apply_rope})


def check_top_p(filter_top_p: Callable) -> None:
    """Chapter 2, part 3: ``filter_top_p(logits, p)``."""
    check_part("ch02", "top_p", {"filter_top_p": filter_top_p})


def check_decode_step(attend_with_cache: Callable) -> None:
    """Chapter 2, part 4: ``attend_with_cache(q, k, v, k_cache, v_cache, length)``."""
    check_part("ch02", "decode", {"attend_with_cache": attend_with_cache})


def check_extract_boxed(extract_boxed: Callable) -> None:
    """Chapter 3, part 1: ``extract_boxed(text)``."""
    check_part("ch03", "extract", {"extract_boxed": extract_boxed})


def check_normalize(normalize: Callable) -> None:
    """Chapter 3, part 2: ``normalize(answer)``."""
    check_part("ch03", "normalize", {"normalize": normalize})


def check_grade(grade: Callable) -> None:
    """Chapter 3, part 3: ``grade(output, reference)``."""
    check_part("ch03", "grade", {"grade": grade})


def check_majority_vote(majority_vote: Callable) -> None:
    """Chapter 4, part 1: ``majority_vote(answers, equal)``."""
    check_part("ch04", "majority_vote", {"majority_vote": majority_vote})


def check_pass_at_k(pass_at_k: Callable) -> None:
    """Chapter 4, part 2: ``pass_at_k(n, c, k)``."""
    check_part("ch04", "pass_at_k", {"pass_at_k": pass_at_k})


def check_best_of_n(best_of_n: Callable, mean_logprob: Callable) -> None:
    """Chapter 4, part 3: ``mean_logprob(completion)`` and ``best_of_n(completions, scorer)``."""
    check_part("ch04", "best_of_n", {"best_of_n": best_of_n, "mean_logprob": mean_logprob})


def check_find_claims(find_claims: Callable) -> None:
    """Chapter 5, part 1: ``find_claims(text)``."""
    check_part("ch05", "find_claims", {"find_claims": find_claims})


def check_revision_prefix(revision_prefix: Callable) -> None:
    """Chapter 5, part 2: ``revision_prefix(text, claims, checked)``."""
    check_part("ch05", "revision_prefix", {"revision_prefix": revision_prefix})


def check_refine_round(refine_round: Callable) -> None:
    """Chapter 5, part 3: ``refine_round(text, check, continue_solution)``."""
    check_part("ch05", "refine_round", {"refine_round": refine_round})


def check_group_advantages(group_advantages: Callable) -> None:
    """Chapter 6, part 1: ``group_advantages(rewards, group_size, mode)``."""
    check_part("ch06", "group_advantages", {"group_advantages": group_advantages})


def check_sequence_logprobs(sequence_logprobs: Callable) -> None:
    """Chapter 6, part 2: ``sequence_logprobs(logits, input_ids, attention_mask, prompt_width, temperature)``."""
    check_part("ch06", "sequence_logprobs", {"sequence_logprobs": sequence_logprobs})


def check_chapter6_loss(chapter6_loss: Callable) -> None:
    """Chapter 6, part 3: ``chapter6_loss(token_logprobs, completion_mask, advantages)``."""
    check_part("ch06", "chapter6_loss", {"chapter6_loss": chapter6_loss})


def check_clipped_token_loss(clipped_token_loss: Callable) -> None:
    """Chapter 7, part 1: ``clipped_token_loss(logp, old_logp, advantages, mask, eps_low, eps_high)``."""
    check_part("ch07", "clipped", {"clipped_token_loss": clipped_token_loss})


def check_k3_kl(k3_kl: Callable) -> None:
    """Chapter 7, part 2: ``k3_kl(logp, ref_logp, mask)``."""
    check_part("ch07", "kl", {"k3_kl": k3_kl})


def check_gspo(sequence_ratio: Callable, gspo_loss: Callable) -> None:
    """Chapter 7, part 3: ``sequence_ratio(logp, old_logp, mask)`` and ``gspo_loss(logp, old_logp, advantages,
    mask, eps_low, eps_high)``."""
    check_part("ch07", "gspo", {"sequence_ratio": sequence_ratio, "gspo_loss": gspo_loss})


def check_masked_sft_loss(masked_sft_loss: Callable) -> None:
    """Chapter 8, part 1: ``masked_sft_loss(logits, input_ids, prompt_lengths, lengths)``."""
    check_part("ch08", "sft_loss", {"masked_sft_loss": masked_sft_loss})


def check_packing(packed_document_ids: Callable, positions_and_mask: Callable) -> None:
    """Chapter 8, part 2: ``packed_document_ids(lengths, width)`` and ``positions_and_mask(document_ids)``."""
    check_part("ch08", "packing",
               {"packed_document_ids": packed_document_ids, "positions_and_mask": positions_and_mask})


def check_keep_trace(keep_trace: Callable) -> None:
    """Chapter 8, part 3: ``keep_trace(record, correct_only, max_tokens)``."""
    check_part("ch08", "trace_filter", {"keep_trace": keep_trace})


def check_feed_forward(feed_forward: Callable) -> None:
    """Appendix C, part 1: ``feed_forward(x, weights)``."""
    check_part("appendix_c", "feed_forward", {"feed_forward": feed_forward})


def check_self_attention(self_attention: Callable) -> None:
    """Appendix C, part 2: ``self_attention(x, weights, cos, sin, config)``."""
    check_part("appendix_c", "self_attention", {"self_attention": self_attention})


def check_block_forward(block_forward: Callable) -> None:
    """Appendix C, part 3: ``block_forward(x, weights, cos, sin, config)``."""
    check_part("appendix_c", "block", {"block_forward": block_forward})


def check_weight_bytes(weight_bytes: Callable) -> None:
    """Appendix D, part 1: ``weight_bytes(config, dtype)``."""
    check_part("appendix_d", "weight_bytes", {"weight_bytes": weight_bytes})


def check_kv_cache_bytes(kv_cache_bytes_per_token: Callable) -> None:
    """Appendix D, part 2: ``kv_cache_bytes_per_token(config, dtype)``."""
    check_part("appendix_d", "kv_cache", {"kv_cache_bytes_per_token": kv_cache_bytes_per_token})


def check_training_bytes(training_bytes: Callable) -> None:
    """Appendix D, part 3: ``training_bytes(config, dtype)``."""
    check_part("appendix_d", "training", {"training_bytes": training_bytes})


def check_left_pad(left_pad: Callable) -> None:
    """Appendix E, part 1: ``left_pad(prompts, pad_id)``."""
    check_part("appendix_e", "left_pad", {"left_pad": left_pad})


def check_token_positions(token_positions: Callable) -> None:
    """Appendix E, part 2: ``token_positions(mask)``."""
    check_part("appendix_e", "positions", {"token_positions": token_positions})


def check_causal_padding_mask(causal_padding_mask: Callable) -> None:
    """Appendix E, part 3: ``causal_padding_mask(valid, start)``."""
    check_part("appendix_e", "attention_mask", {"causal_padding_mask": causal_padding_mask})


def check_bradley_terry(bradley_terry: Callable) -> None:
    """Appendix F, part 1: ``bradley_terry(matches, prior)``."""
    check_part("appendix_f", "bradley_terry", {"bradley_terry": bradley_terry})


def check_choice_scores(choice_scores: Callable, predicted_choice: Callable) -> None:
    """Appendix F, part 2: ``choice_scores(token_logprobs, scorer)`` and ``predicted_choice(scores)``."""
    check_part("appendix_f", "scores", {"choice_scores": choice_scores, "predicted_choice": predicted_choice})


def check_parse_choice(parse_choice: Callable) -> None:
    """Appendix F, part 3: ``parse_choice(text, choices)``."""
    check_part("appendix_f", "parse_choice", {"parse_choice": parse_choice})
