"""Reinforcement learning with verifiable rewards: GRPO and its variants (chapters 6 and 7).

The loop of every step: sample a *group* of G solutions for each prompt (``rollouts``), score them with the
answer verifier (``rewards``), compare each solution with the others of its group (``advantages``), and push
up the log-probability of the better-than-average ones (``losses``). ``presets`` names the published variants
(GRPO, Dr. GRPO, DAPO, GSPO, CISPO, OLMo 3, DeepSeek-V3.2) as plain dicts of the loss's options, and
``trainer`` runs the loop with metrics, evaluation, checkpoints and resume.
"""
