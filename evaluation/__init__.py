"""Evaluation of the serving runtime, kept out of it: scoring the findings layer against phantom
truth (``evaluation.scoring``) and synthetic chest maps for tests and demos
(``evaluation.synthetic``). Depends on ``orchestrator/``; nothing under ``orchestrator/``
imports it (``tests/test_layout.py``)."""
