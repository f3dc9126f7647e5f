"""Evaluation: one evaluator for any game × policy (a model or a scripted instrument) × splits.

:func:`gengap.eval.evaluate.evaluate` plays and reports; :class:`gengap.eval.config.EvalConfig` is the
``gengap eval`` run; :func:`gengap.eval.policies.make_policies` turns ``--model`` values into policies.
"""
