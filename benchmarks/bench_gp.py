"""GeneralPoints benchmarks: verifier throughput, solver time, reset cost, hostile answers and env steps.

Targets come from the issue (anchors measured on the reference implementation on this machine: its verifier
does ~69,000 answers/s with Python ``eval`` and floats, its solver needs ~119 s for all hands, ~90 ms per
reset). Each measurement has a baseline written here and timed in the same run, so the ratio survives a
noisy machine:

* verifier — ``json.loads`` plus a float evaluation of the formula (the reference's approach, but walking
  :func:`ast.parse` nodes: this project never calls ``eval``);
* solver — brute force over all orderings × binary trees × operators with :class:`~fractions.Fraction`,
  timed on a seeded sample of hands and extrapolated to all 1,820;
* reset — dealing until the brute-force solver finds a solution, as a reference-style reset does.

``hostile`` is issue 13's longer fuzz: the probe's adversarial answer classes at up to the maximum answer
length (worst case per answer, target < 1 ms), a seeded fuzz of mutated answers (answers/s, crashes, false
accepts against an independent :mod:`ast`-based oracle), the RSS growth after 100,000 distinct answers (in a
fresh process, target < 50 MB) and a Gymnasium ``step`` of GeneralPoints against one of V-IRL (within 3x).
"""

from __future__ import annotations

import ast
import gc
import json
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from itertools import combinations_with_replacement, permutations
from pathlib import Path
from typing import Any

from common import (
    SINGLE_THREAD_NOTE,
    Context,
    Result,
    error_result,
    fmt_value,
    loop,
    measure,
    measure_interleaved,
    star_loop,
)

from gengap.core.lenient_json import MAX_ANSWER_CHARS
from gengap.gp import solver
from gengap.gp.answer import parse_answer
from gengap.gp.cards import RANKS
from gengap.gp.formula import FormulaError, evaluate
from gengap.gp.game import GeneralPoints
from gengap.gp.policies import random_formula
from gengap.gp.prompts import format_answer
from gengap.gp.rules import OOD_RULE, TRAIN_RULE, Rule
from gengap.gp.splits import get_split
from gengap.gp.verifier import verify

TARGET = 24
VERIFIER_TARGET = 100_000.0  # answers/s, one core
REFERENCE_VERIFIER_ANCHOR = 69_000.0  # answers/s of the reference verifier, measured on this machine by the issue
TABLE_TARGET = 2.0  # s, all 1,820 rank multisets
RESET_TARGET = 1e-3  # s per reset, after the one-time table
N_MULTISETS = 1820
WORST_CASE_TARGET = 1e-3  # s per answer, any hostile answer up to the maximum length
RSS_TARGET_MB = 50.0  # growth after 100,000 distinct answers
STEP_RATIO_TARGET = 3.0  # a GP Gymnasium step at most this many times a V-IRL one
SOLVE_TARGET = 1.0  # s, every solution of the largest hand the solver accepts, cold
MIX = {"correct": 0.3, "wrong_value": 0.3, "wrong_numbers": 0.2, "illegal": 0.2}
ILLEGAL_KINDS = ("unbalanced", "letters", "unary-minus", "empty", "not-json")


# --- baselines -------------------------------------------------------------------------------------------


class _NaiveIllegal(Exception):
    pass


def _float_eval(node: ast.AST, numbers: list[int]) -> float:
    """Float evaluation of a formula's syntax tree, as ``eval`` would do it (unary minus accepted)."""
    if isinstance(node, ast.BinOp):
        a = _float_eval(node.left, numbers)
        b = _float_eval(node.right, numbers)
        op = type(node.op)
        if op is ast.Add:
            return a + b
        if op is ast.Sub:
            return a - b
        if op is ast.Mult:
            return a * b
        if op is ast.Div:
            return a / b
        raise _NaiveIllegal
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _float_eval(node.operand, numbers)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Constant) and type(node.value) is int:
        numbers.append(node.value)
        return float(node.value)
    raise _NaiveIllegal


def naive_formula(formula: str) -> tuple[float, list[int]] | None:
    """The baseline's formula step: ``ast.parse`` and a float walk; ``None`` when illegal."""
    try:
        tree = ast.parse(formula.partition("=")[0], mode="eval")
        numbers: list[int] = []
        return _float_eval(tree.body, numbers), numbers
    except (SyntaxError, ValueError, _NaiveIllegal, ZeroDivisionError, RecursionError):
        return None


def naive_verify(text: str, values: Sequence[int], target: int = TARGET) -> str:
    """The reference's verifier, minus ``eval``: strict JSON, float arithmetic, a tolerance on the target."""
    try:
        data = json.loads(text)
    except ValueError:
        return "illegal"
    formula = data.get("formula") if isinstance(data, dict) else None
    if not isinstance(formula, str):
        return "illegal"
    evaluated = naive_formula(formula)
    if evaluated is None:
        return "illegal"
    value, numbers = evaluated
    if sorted(numbers) != sorted(values):
        return "wrong_numbers"
    return "correct" if abs(value - target) < 1e-6 else "wrong_value"


Tree = Fraction | tuple[str, "Tree", "Tree"]


def _naive_trees(nums: Sequence[Fraction]) -> Iterator[tuple[Fraction, Tree]]:
    """Every binary tree over ``nums`` in this order, with every operator at every node (no caching)."""
    if len(nums) == 1:
        yield nums[0], nums[0]
        return
    for i in range(1, len(nums)):
        for a, ta in _naive_trees(nums[:i]):
            for b, tb in _naive_trees(nums[i:]):
                yield a + b, ("+", ta, tb)
                yield a - b, ("-", ta, tb)
                yield a * b, ("*", ta, tb)
                if b:
                    yield a / b, ("/", ta, tb)


def _tree_text(tree: Tree) -> str:
    if isinstance(tree, Fraction):
        return str(tree.numerator)
    op, a, b = tree
    return f"({_tree_text(a)}{op}{_tree_text(b)})"


def naive_first_solution(values: Sequence[int], target: int = TARGET) -> str | None:
    """Brute force: all orderings × all trees × all operators, stopping at the first solution."""
    t = Fraction(target)
    for perm in permutations(values):
        for v, tree in _naive_trees(tuple(Fraction(x) for x in perm)):
            if v == t:
                return _tree_text(tree)
    return None


def naive_all_solutions(values: Sequence[int], target: int = TARGET) -> set[str]:
    """Brute force over the whole space, collecting every solution string (not canonicalised)."""
    t = Fraction(target)
    found: set[str] = set()
    for perm in permutations(values):
        for v, tree in _naive_trees(tuple(Fraction(x) for x in perm)):
            if v == t:
                found.add(_tree_text(tree))
    return found


def naive_reset(rule: Rule, seed: int, require_face: bool, n_cards: int = 4) -> tuple[str, ...]:
    """A reference-style reset: draw cards until the brute-force solver finds a solution."""
    rng = random.Random(seed)
    while True:
        idx = [rng.randrange(13) for _ in range(n_cards)]
        ranks = tuple(RANKS[i] for i in idx)
        rng.choice(("spades", "clubs"))
        if require_face and not any(r in ("J", "Q", "K") for r in ranks):
            continue
        if naive_first_solution([rule.values[i] for i in idx]) is not None:
            return ranks


# --- helpers ---------------------------------------------------------------------------------------------


_CACHED = ("reachable", "_is_solvable", "_solvable_table", "_expressions", "_expressions_of", "_solve")


def clear_solver_caches() -> None:
    """Forget every solver cache, so the next call pays the full (cold) cost."""
    for name in _CACHED:
        fn = getattr(solver, name, None)
        if fn is not None and hasattr(fn, "cache_clear"):
            fn.cache_clear()


def all_multisets(rule: Rule, n_cards: int = 4) -> list[tuple[int, ...]]:
    return [tuple(sorted(rule.values[i] for i in idx)) for idx in combinations_with_replacement(range(13), n_cards)]


def _legal_formula(values: Sequence[int], rng: random.Random, want_target: bool | None) -> str:
    """A random legal formula over ``values``; ``want_target=False``: one whose value is not the target."""
    while True:
        formula = random_formula(values, rng)
        try:
            ev = evaluate(formula)
        except FormulaError:
            continue  # division by zero
        if want_target is None or ev.equals(TARGET) == want_target:
            return formula


def _illegal_text(kind: str, values: Sequence[int], ranks: Sequence[str], rng: random.Random) -> str:
    formula = _legal_formula(values, rng, None)
    if kind == "unbalanced":
        bad = "(" + formula
    elif kind == "letters":
        word = rng.choice(("x", "sqrt", "J", "a", "pi"))
        first = str(values[0])
        bad = formula.replace(first, word, 1) if rng.random() < 0.5 else f"{formula}*{word}"
    elif kind == "unary-minus":
        inner = "+" in formula and rng.random() < 0.5
        bad = formula.replace("+", "+-", 1) if inner else "-" + formula
    elif kind == "empty":
        return json.dumps({"cards": list(ranks), "number": list(values), "formula": rng.choice(("", "=24", " "))})
    else:  # not JSON at all
        return rng.choice(
            (
                "I could not find a solution for these cards.",
                f"The cards are {', '.join(ranks)}, so the answer is {formula} which makes 24.",
                "Answer: 24",
                "{cards: [" + ", ".join(ranks) + "], number: [",
            )
        )
    return format_answer(bad, values, ranks, TARGET)


def build_mix(n: int, seed: int) -> tuple[list[tuple[str, tuple[int, ...]]], list[str]]:
    """A fixed, seeded mix of ``n`` paper-style answers over ID hands, with the intended outcome of each."""
    rng = random.Random(seed)
    game = GeneralPoints(split="id")
    hands = []
    for k in range(max(50, n // 50)):
        ep = game.episode(seed * 1_000_003 + k)
        hands.append((tuple(ep.values), ep.hand.ranks))
    kinds = [kind for kind, share in MIX.items() for _ in range(round(n * share))]
    rng.shuffle(kinds)
    items: list[tuple[str, tuple[int, ...]]] = []
    for kind in kinds:
        values, ranks = rng.choice(hands)
        if kind == "correct":
            text = format_answer(rng.choice(solver.solve(values, TARGET)), values, ranks, TARGET)
        elif kind == "wrong_value":
            text = format_answer(_legal_formula(values, rng, False), values, ranks, TARGET)
        elif kind == "wrong_numbers":
            nums = list(values)
            change = rng.randrange(3)
            if change == 0:  # a number that is not a card value at that place
                i = rng.randrange(len(nums))
                nums[i] = rng.choice([v for v in range(1, 14) if v != nums[i]])
            elif change == 1:  # a card left out
                nums.pop(rng.randrange(len(nums)))
            else:  # a card used twice
                nums.append(rng.choice(nums))
            text = format_answer(_legal_formula(nums, rng, None), values, ranks, TARGET)
        else:
            text = _illegal_text(rng.choice(ILLEGAL_KINDS), values, ranks, rng)
        items.append((text, values))
    return items, kinds


def _shares(counts: Counter[str], n: int) -> str:
    return ", ".join(f"{k} {counts.get(k, 0)} ({100 * counts.get(k, 0) / n:.1f} %)" for k in (*MIX, "wrong_cards"))


# --- sections --------------------------------------------------------------------------------------------


def bench_verifier(ctx: Context) -> list[Result]:
    """verifier throughput on a seeded 30/30/20/20 answer mix (parsing included)"""
    ctx.log(f"   {SINGLE_THREAD_NOTE}")
    n = ctx.scaled(20_000, 5_000)
    t0 = time.perf_counter()
    items, kinds = build_mix(n, ctx.seed)
    ctx.log(f"   built {len(items):,} answers in {time.perf_counter() - t0:.1f} s")

    ours_each = [verify(text, values, TARGET).outcome.value for text, values in items]
    ours = Counter(ours_each)
    base = [naive_verify(text, values) for text, values in items]
    ctx.log(f"   intended: {_shares(Counter(kinds), n)}")
    ctx.log(f"   ours:     {_shares(ours, n)}")
    ctx.log(f"   baseline: {_shares(Counter(base), n)}")
    intended = Counter(kinds)
    mix_ok = all(abs(ours.get(k, 0) - intended[k]) <= 0.01 * n for k in MIX)
    if not mix_ok:
        ctx.log("   WARNING: our verifier's outcome shares differ from the intended mix by more than 1 point")
    mismatch = Counter(f"{i}->{b}" for i, b in zip(kinds, base, strict=True) if i != b)
    if mismatch:
        ctx.log(f"   baseline disagrees with the intended outcome on: {dict(mismatch)}")

    texts = [t for t, _ in items]
    formulas = []
    for text in texts:
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("formula"), str):
            formulas.append(data["formula"])

    def safe_evaluate(formula: str) -> object:
        try:
            return evaluate(formula)
        except FormulaError:
            return None

    r = ctx.repeats
    timings = measure_interleaved(
        {
            "verify": star_loop(verify, items),
            "naive_verify": star_loop(naive_verify, items),
            "evaluate": loop(safe_evaluate, formulas),
            "naive_formula": loop(naive_formula, formulas),
            "parse_answer": loop(parse_answer, texts),
            "json.loads": loop(_json_or_none, texts),
        },
        repeats=r,
        warmup=1,
    )
    t_ours, t_base = timings["verify"], timings["naive_verify"]
    t_formula, t_formula_base = timings["evaluate"], timings["naive_formula"]
    t_parse, t_parse_base = timings["parse_answer"], timings["json.loads"]
    ctx.log(f"   verify: repeats {[f'{x:.3f}' for x in t_ours.seconds]} s for {n:,} answers")
    us_verify, us_parse, us_formula = (
        1e6 * t.median / k for t, k in ((t_ours, n), (t_parse, n), (t_formula, len(formulas)))
    )
    ctx.log(
        f"   per answer: verify {us_verify:.1f} µs = parse {us_parse:.1f} + formula {us_formula:.1f} "
        f"+ the rest (checks, feedback, Verdict) {us_verify - us_parse - us_formula:.1f}"
    )
    by_kind = _per_kind(items, kinds, min(r, 3))
    for kind, (o, b) in by_kind.items():
        ctx.log(f"   {kind:>13}: ours {o:5.1f} µs/answer, baseline {b:5.1f} µs/answer")

    agree = sum(o == b for o, b in zip(ours_each, base, strict=True))
    mix_note = "mix 30/30/20/20 confirmed" if mix_ok else "mix shares OFF (see log)"
    return [
        Result(
            "verifier answers/s (verify, parse included)",
            "rate",
            n / t_ours.median,
            n / t_base.median,
            VERIFIER_TARGET,
            f"{n:,} answers; {mix_note}; baseline json.loads+ast float walk agrees on {100 * agree / n:.1f} % "
            "(it accepts unary minus); "
            "reference anchor ~69,000/s",
            extra={
                "outcomes": dict(ours),
                "baseline_outcomes": dict(Counter(base)),
                "baseline_disagreements": dict(mismatch),
                "seconds": t_ours.seconds,
                "baseline_seconds": t_base.seconds,
                "us_per_answer_by_outcome": {k: {"ours": o, "baseline": b} for k, (o, b) in by_kind.items()},
            },
        ),
        Result(
            "verifier speed-up over the reference-style baseline",
            "rate",
            n / t_ours.median,
            n / t_base.median,
            note="the issue's target (100,000/s vs the reference's 69,000/s, both on this machine) as a "
            "same-run ratio, "
            "which machine load does not move",
            ratio_target=VERIFIER_TARGET / REFERENCE_VERIFIER_ANCHOR,
        ),
        Result(
            "formula only (formula.evaluate)",
            "rate",
            len(formulas) / t_formula.median,
            len(formulas) / t_formula_base.median,
            None,
            f"{len(formulas):,} formulas; baseline ast.parse + float walk",
        ),
        Result(
            "parse only (answer.parse_answer)",
            "rate",
            n / t_parse.median,
            n / t_parse_base.median,
            None,
            "baseline bare json.loads (C), which reads strict JSON only",
        ),
    ]


def _per_kind(
    items: Sequence[tuple[str, tuple[int, ...]]], kinds: Sequence[str], repeats: int
) -> dict[str, tuple[float, float]]:
    """µs per answer of ours and the baseline for each intended outcome: which answers are expensive."""
    out = {}
    for kind in MIX:
        group = [item for item, k in zip(items, kinds, strict=True) if k == kind]
        t = measure_interleaved(
            {"ours": star_loop(verify, group), "base": star_loop(naive_verify, group)}, repeats=repeats
        )
        out[kind] = (1e6 * t["ours"].median / len(group), 1e6 * t["base"].median / len(group))
    return out


def _json_or_none(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def bench_solver(ctx: Context) -> list[Result]:
    """solver: cold table of all 1,820 rank multisets, and solve() per hand"""
    ctx.log(f"   {SINGLE_THREAD_NOTE}")
    r = ctx.repeats
    n_sample = ctx.scaled(40, 12)
    base_repeats = min(r, ctx.scaled(3, 1))
    results: list[Result] = []
    for rule, expect in ((OOD_RULE, 1362), (TRAIN_RULE, None)):
        size = len(solver.solvable_rank_multisets(rule))
        t = measure(lambda rule=rule: solver.solvable_rank_multisets(rule), repeats=r, setup=clear_solver_caches)
        multisets = all_multisets(rule)
        sample = random.Random(ctx.seed).sample(multisets, n_sample)
        base_found: list[bool] = []

        def baseline(sample: list[tuple[int, ...]] = sample, out: list[bool] = base_found) -> None:
            out.clear()
            out.extend(naive_first_solution(v) is not None for v in sample)

        tb = measure(baseline, repeats=base_repeats)
        clear_solver_caches()
        agree = sum(solver.is_solvable(v) == f for v, f in zip(sample, base_found, strict=True))
        extrapolated = tb.median * N_MULTISETS / n_sample
        ctx.log(
            f"   {rule.name}: {size} solvable; cold table {[f'{x:.3f}' for x in t.seconds]} s; "
            f"brute force {tb.median:.2f} s for {n_sample} hands -> ~{extrapolated:.0f} s for {N_MULTISETS}"
        )
        count_note = f"{size} solvable" + ("" if expect is None or size == expect else f" (EXPECTED {expect})")
        results.append(
            Result(
                f"solvable table, cold, {rule.name}",
                "time",
                t.median,
                extrapolated,
                TABLE_TARGET,
                f"{count_note}; baseline brute force on {n_sample} seeded hands extrapolated to {N_MULTISETS} "
                f"(agrees {agree}/{n_sample}); reference anchor ~119 s",
                extra={"seconds": t.seconds, "baseline_seconds": tb.seconds, "solvable": size},
            )
        )

    # solve(): every canonical solution of one hand, from cold caches.
    solvable = sorted(solver.solvable_rank_multisets(TRAIN_RULE))
    rng = random.Random(ctx.seed + 1)
    hands = [TRAIN_RULE.hand_values(h) for h in rng.sample(solvable, ctx.scaled(100, 30))]
    base_hands = hands[: ctx.scaled(20, 6)]

    def per_hand(fn: Callable[[tuple[int, ...]], object], hands: Sequence[tuple[int, ...]]) -> float:
        times = []
        for h in hands:
            clear_solver_caches()
            t0 = time.perf_counter()
            fn(h)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    ours = statistics.median(per_hand(solver.solve, hands) for _ in range(r))
    base = statistics.median(per_hand(naive_all_solutions, base_hands) for _ in range(base_repeats))
    n_solutions = statistics.median(len(solver.solve(h)) for h in hands)
    ctx.log(f"   solve(): median {fmt_value(ours, 'time')} per hand cold; brute force {fmt_value(base, 'time')}")
    results.append(
        Result(
            "solve() all canonical solutions, per hand, cold",
            "time",
            ours,
            base,
            None,
            f"median over {len(hands)} solvable ID hands (median {n_solutions:g} solutions); "
            f"baseline brute force collecting all solutions, {len(base_hands)} hands",
        )
    )
    return results


def _per_call(fn: Callable[[int], object], seeds: Sequence[int], repeats: int) -> float:
    return measure(loop(fn, seeds), repeats=repeats, warmup=1).median / len(seeds)


def bench_reset(ctx: Context) -> list[Result]:
    """reset cost: one episode (deal + prompt) after the one-time solvable table is built"""
    ctx.log(f"   {SINGLE_THREAD_NOTE}")
    r = ctx.repeats
    seeds = range(10_000, 10_000 + ctx.scaled(2_000, 500))
    base_seeds = range(10_000, 10_000 + ctx.scaled(20, 6))
    base_repeats = min(r, ctx.scaled(3, 1))
    results: list[Result] = []
    for split_name in ("id", "ood-rule"):
        split = get_split(split_name)
        t0 = time.perf_counter()
        solver.solvable_rank_multisets(split.rule)  # the one-time table: fills is_solvable's cache
        ctx.log(f"   {split_name}: table built in {time.perf_counter() - t0:.2f} s (not counted)")
        game = GeneralPoints(split=split_name)
        for s in range(200):
            game.episode(s)
        ours = _per_call(game.episode, seeds, r)
        base = _per_call(
            lambda s, split=split: naive_reset(split.rule, s, split.require_face), base_seeds, base_repeats
        )
        results.append(
            Result(
                f"reset {split_name}: GeneralPoints.episode(seed)",
                "time",
                ours,
                base,
                RESET_TARGET,
                f"median of {r} passes over {len(seeds):,} seeds; baseline deals until brute force solves, "
                f"{len(base_seeds)} seeds; reference anchor ~90 ms",
            )
        )

    try:
        import gymnasium

        import gengap  # noqa: F401  (registers the environments)

        env = gymnasium.make("gengap/GeneralPoints-L-v0")
        env.reset(seed=0)
        ours = _per_call(lambda s: env.reset(seed=s), seeds, r)
        env.close()
        raw = results[0].ours or 0.0
        results.append(
            Result(
                "reset id: gymnasium.make(GeneralPoints-L-v0).reset",
                "time",
                ours,
                None,
                RESET_TARGET,
                f"incl. gymnasium's default wrappers and obs building; +{fmt_value(ours - raw, 'time')} over episode()",
            )
        )
    except Exception as err:
        results.append(error_result("reset id: gymnasium env", "time", err, target=RESET_TARGET))

    results.append(_vl_reset(ctx))
    return results


def _vl_reset(ctx: Context) -> Result:
    """VL reset with the 1200 px table image; render.py may be mid-rewrite, so failures become a row."""
    name = "reset id VL: episode + table image 1200 px"
    try:
        game = GeneralPoints(split="id", vision=True, image_size=1200)
        img: Any = game.episode(0).image  # warm the card-face caches
        if tuple(img.size) != (1200, 1200):
            raise ValueError(f"image is {img.size}, expected 1200x1200")
        seeds = range(20_000, 20_000 + ctx.scaled(30, 10))
        ours = _per_call(lambda s: game.episode(s).image, seeds, min(ctx.repeats, 3))
    except Exception as err:
        return error_result(name, "time", err)
    return Result(name, "time", ours, None, None, f"{len(seeds)} seeds; render_table included; no target")


# --- hostile answers (issue 13) ---------------------------------------------------------------------------


def hostile_answers(limit: int = MAX_ANSWER_CHARS) -> dict[str, str]:
    """The probe's adversarial answer classes, each as long as the maximum allows (V-IRL uses them too).

    Each targets one way a parser can go super-linear or allocate without bound: runs of spaces after a key
    (the lazy-regex trap), nested or repeated braces, unterminated strings, floods of key lines, ``=`` and
    ``:``, deep parentheses, huge numbers, unicode, code fences, and answers of exactly the maximum length.
    """
    m = limit
    c = {
        "spaces after a key line": "formula: 1" + " " * m + "x",
        "formula padded before </s>": "thought: ok\nformula: (8-4)*6" + " " * m + "</s>",
        "spaces inside an object": "{" + " " * m + "x",
        "nested braces": "{" * (m // 2) + "}" * (m // 2),
        "open braces": "{" * m,
        "nested bare keys": "{a:" * (m // 3),
        "unterminated string": '{"formula": "' + "a" * m,
        "unterminated quotes": ("{'" + "a" * 30) * (m // 32),
        "many key lines": "formula: 1\n" * (m // 11),
        "many other key lines": "zzzzz: 1\n" * (m // 9),
        "many conflicting key lines": "".join(f"formula: {i}\n" for i in range(m // 12)),
        "many '='": "=" * m,
        "many ':'": ":" * m,
        "key then ':' run": "formula" + ":" * m,
        "word then '=' run": "a" * 30 + "=" * m,
        "deep parentheses (JSON)": '{"formula": "' + "(" * (m // 2) + "8" + ")" * (m // 2) + '"}',
        "deep parentheses (line)": "formula: " + "(" * (m // 2) + "8" + ")" * (m // 2),
        "huge number (JSON)": '{"formula": "' + "9" * m + '"}',
        "huge number (line)": "formula: " + "9" * m,
        "huge claimed result": "formula: 8/(3-8/3)=" + "9" * m,
        "unicode operators": "formula: " + "×÷−" * (m // 3),
        "unicode spaces": "formula:" + "\u3000" * m + "x",
        "fences": "```" * (m // 3),
        "open fence and braces": "```json\n" + "{" * m,
        "fenced partial objects": "```{a:1,\n```" * (m // 12),
        "many entries": "{" + ",".join(f'"k{i}":1' for i in range(m // 7)),
        "many entries, closed": "{" + ",".join(f'"k{i}":1' for i in range(m // 9)) + "}",
        "long bare key": "{" + "a" * m + "}",
        "bare key with spaces": "{" + "a " * (m // 2) + "}",
        "long key-like lines": ("a" * 31 + " " * 10 + "\n") * (m // 42),
        "backslashes": '{"formula": "' + "\\" * m + '"}',
        "number then spaces": "{a:" + "1" * 18 + " " * m + "x",
        "numbers then spaces, many": ("{a:1" + " " * 200) * (m // 204),
        "open brackets": "{a:" + "[" * m,
        "star line": "*" * m + "\n",
        "quoted key flood": '"' * (m // 2) + "formula" + '"' * (m // 2) + ":1",
        "formula then '=' run": "formula: 8" + "=" * m,
        "action padded": "action: turn_direction(" + " " * m + "x)",
        "negations": "observation: " + "no " * (m // 3) + "intersection\naction: forward()",
        "negations in JSON": '{"observation": "' + "not " * (m // 4) + 'intersection", "action": "stop()"}',
        "turn padded (JSON)": '{"action": "turn_direction(\'north' + " " * m + "')\"}",
        "clauses": "observation: " + "," * m + "intersection\naction: forward()",
        "exactly the maximum": '{"formula": "(8-4)*6", "thought": "' + "x" * m + '"}',
    }
    out = {name: text[:limit] for name, text in c.items()}
    out["one over the maximum"] = '{"formula": "(8-4)*6"}' + " " * limit
    return out


def worst_case(fn: Callable[[str], object], answers: dict[str, str], repeats: int) -> dict[str, float]:
    """Seconds per answer of each class: the median of ``repeats`` timings of 3 calls each."""
    out = {}
    for name, text in answers.items():
        fn(text)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(text)
            fn(text)
            fn(text)
            times.append((time.perf_counter() - t0) / 3)
        out[name] = statistics.median(times)
    return out


def naive_formula_exact(head: str) -> tuple[Fraction, list[int]] | None:
    """The exact value and numbers of a formula by walking :func:`ast.parse`'s tree (never evaluated)."""

    def walk(node: ast.AST, numbers: list[int]) -> Fraction:
        if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult, ast.Div):
            a, b = walk(node.left, numbers), walk(node.right, numbers)
            op = type(node.op)
            return a + b if op is ast.Add else a - b if op is ast.Sub else a * b if op is ast.Mult else a / b
        if isinstance(node, ast.Constant) and type(node.value) is int:
            numbers.append(node.value)
            return Fraction(node.value)
        raise _NaiveIllegal

    head = head.translate(str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-", "∗": "*", "⋅": "*", "·": "*"}))
    try:
        numbers: list[int] = []
        spaced = " ".join(head.split())  # our grammar, like str.split, counts any unicode space as a space
        return walk(ast.parse(spaced, mode="eval").body, numbers), numbers
    except (SyntaxError, ValueError, _NaiveIllegal, ZeroDivisionError, RecursionError, MemoryError):
        return None


Hand = tuple[int, ...]
HOSTILE_HAND: Hand = (4, 6, 8, 8)


def fuzz_corpus(
    n: int, seed: int, typical: Sequence[tuple[str, Hand]] = (), limit: int = MAX_ANSWER_CHARS
) -> list[tuple[str, Hand]]:
    """``n`` seeded ``(answer, hand)`` pairs: typical answers (GP's mix unless given) and hostile ones, cut,
    spliced, repeated and sprinkled with noise; each keeps the hand of the answer it started from, so
    mutations that stay correct are scored correct and the false-accept check has something to check."""
    rng = random.Random(seed)
    if not typical:
        typical = build_mix(max(200, n // 10), seed)[0]
    seeds = list(typical) + [(t, HOSTILE_HAND) for t in hostile_answers(min(limit, 2048)).values()]
    noise = " {}[]\"'`:=,\n\t()+-*/=24#×÷\u3000éπ0123456789abc"
    out = []
    for _ in range(n):
        text, hand = rng.choice(seeds)
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            op = rng.randrange(5)
            i = rng.randrange(len(text) + 1)
            if op == 0:  # insert noise
                text = text[:i] + "".join(rng.choice(noise) for _ in range(rng.randrange(1, 12))) + text[i:]
            elif op == 1:  # cut
                text = text[: rng.randrange(len(text) + 1)] if rng.random() < 0.5 else text[i:]
            elif op == 2:  # splice another answer in
                text = text[:i] + rng.choice(seeds)[0] + text[i:]
            elif op == 3:  # repeat a piece
                j = rng.randrange(i, len(text) + 1)
                text = text[:i] + text[i:j] * rng.randrange(2, 50) + text[j:]
            else:  # pad
                text += rng.choice(" \n{=:") * rng.randrange(1, 2000)
        out.append((text[: limit + rng.choice((0, 0, 0, 10))], hand))
    return out


def rss_growth_mb(game: str, n: int, seed: int) -> float:
    """RSS growth (MB) of a fresh Python process after scoring ``n`` distinct answers of ``game``."""
    here = str(Path(__file__).resolve().parent)
    code = (
        f"import sys; sys.path.insert(0, {here!r}); import bench_gp; print(bench_gp.rss_child({game!r}, {n}, {seed}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "the child failed")
    return float(done.stdout.strip().splitlines()[-1])


def rss_result(game: str, ctx: Context, note: str) -> Result:
    """The table row of :func:`rss_growth_mb` (100k answers; fewer under ``--quick``), or its error."""
    n = ctx.scaled(100_000, 20_000)
    name = f"hostile: RSS growth after {n:,} distinct answers"
    try:
        grown = rss_growth_mb(game, n, ctx.seed)
    except Exception as err:
        return error_result(name, "MB", err, target=RSS_TARGET_MB)
    return Result(name, "MB", grown, target=RSS_TARGET_MB, note=note, extra={"rss_growth_mb": grown})


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def _random_formula(rng: random.Random, n: int) -> str:
    if n == 1:
        return str(rng.randrange(1, 14))
    k = rng.randrange(1, n)
    s = _random_formula(rng, k) + rng.choice("+-*/") + _random_formula(rng, n - k)
    return f"({s})" if rng.random() < 0.5 else s


def rss_child(game: str, n: int, seed: int) -> float:
    """In a fresh process: score ``n`` distinct answers (nearly every formula a new shape); RSS growth in MB."""
    rng = random.Random(seed)
    if game == "gp":
        texts = [json.dumps({"formula": _random_formula(rng, rng.randrange(4, 12))}) for _ in range(n)]

        def score(text: str) -> object:
            return verify(text, (1, 2, 3, 4))
    else:
        from gengap.virl.verifier import verify as virl_verify

        dirs = ("north", "east", "south", "west")
        texts = [
            f"observation: {_random_formula(rng, 3)} intersection {i}\naction: turn_direction({rng.choice(dirs)})"
            for i in range(n)
        ]

        def score(text: str) -> object:
            return virl_verify(text, "forward()", True, ("forward()", "turn_direction(north)"))

    score(texts[0])
    gc.collect()
    before = _rss_mb()
    for text in texts:
        score(text)
    gc.collect()
    return _rss_mb() - before


def env_step_seconds(name: str, answer: Callable[[Any], str], n: int) -> float:
    """Median seconds of one Gymnasium ``step`` (after a fresh ``reset`` each time)."""
    import gymnasium

    import gengap  # noqa: F401  (registers the environments)

    env = gymnasium.make(name)
    times = []
    for s in range(n):
        env.reset(seed=s)
        text = answer(env.unwrapped.episode)
        t0 = time.perf_counter()
        env.step(text)
        times.append(time.perf_counter() - t0)
    env.close()
    return statistics.median(times)


def _gp_answer(ep: Any) -> str:
    return format_answer("1+2", ep.values, None, ep.target)  # a wrong answer: the episode goes on


def bench_hostile(ctx: Context) -> list[Result]:
    """hostile answers: worst case per class, fuzz answers/s, RSS after 100k answers, env step vs V-IRL"""
    ctx.log(f"   {SINGLE_THREAD_NOTE}")
    results: list[Result] = []
    answers = hostile_answers()
    hand = HOSTILE_HAND
    per_class = worst_case(lambda t: verify(t, hand), answers, max(ctx.repeats, 9))
    slowest = max(per_class, key=per_class.__getitem__)
    for name in sorted(per_class, key=per_class.__getitem__, reverse=True)[:5]:
        ctx.log(f"   {name:>28}: {fmt_value(per_class[name], 'time')}")
    results.append(
        Result(
            "hostile: worst case per answer (verify)",
            "time",
            per_class[slowest],
            None,
            WORST_CASE_TARGET,
            f"max over {len(answers)} adversarial classes at the maximum length ({MAX_ANSWER_CHARS:,} chars) of "
            f"the median of repeats; slowest: {slowest}; was 724 ms (spaces after a key line) before issue 13",
            extra={"seconds_by_class": per_class},
        )
    )

    n = ctx.scaled(20_000, 4_000)
    corpus = fuzz_corpus(n, ctx.seed)
    crashes = false_accepts = 0
    outcomes: Counter[str] = Counter()
    for text, values in corpus:
        try:
            v = verify(text, values)
        except Exception:
            crashes += 1
            continue
        outcomes[v.outcome.value] += 1
        if v.correct:
            checked = naive_formula_exact((v.answer.formula or "").partition("=")[0])
            if checked is None or checked[0] != TARGET or sorted(checked[1]) != sorted(values):
                false_accepts += 1
    t = measure(star_loop(verify, corpus), repeats=min(ctx.repeats, 3))
    ctx.log(f"   fuzz: {n:,} answers, {crashes} crashes, {false_accepts} false accepts; outcomes {dict(outcomes)}")
    results.append(
        Result(
            "hostile: fuzzed answers/s (verify)",
            "rate",
            n / t.median,
            None,
            None,
            f"{n:,} seeded mutations of typical and hostile answers (mean {sum(len(t) for t, _ in corpus) // n:,} "
            f"chars; {outcomes['correct']:,} correct); {crashes} crashes, {false_accepts} false accepts (ast oracle)",
            error=None if crashes == 0 and false_accepts == 0 else f"{crashes} crashes, {false_accepts} false accepts",
            extra={"outcomes": dict(outcomes)},
        )
    )

    results.append(
        rss_result(
            "gp",
            ctx,
            "fresh process, formulas of 4-11 numbers, nearly every one a new shape; was 283 MB before issue 13",
        )
    )

    try:
        steps = ctx.scaled(400, 100)
        gp_step = env_step_seconds("gengap/GeneralPoints-L-v0", _gp_answer, steps)
        virl_step = env_step_seconds("gengap/VIRL-L-v0", lambda ep: ep.expert_answer(), steps)
        results.append(
            Result(
                "env.step: GeneralPoints-L vs VIRL-L (gymnasium.make)",
                "time",
                gp_step,
                virl_step,
                note=f"median of {steps} steps after fresh resets; target: a GP step within {STEP_RATIO_TARGET:g}x "
                "of V-IRL's (ratio >= 1/3); GP was 65x V-IRL before issue 13 (it solved the hand every step)",
                ratio_target=1 / STEP_RATIO_TARGET,
            )
        )
    except Exception as err:
        results.append(error_result("env.step: GP vs V-IRL", "time", err))
    return results


def bench_solver_limit(ctx: Context) -> list[Result]:
    """solver: every solution of the largest hand it accepts (cold), and the refusal of larger hands"""
    rng = random.Random(ctx.seed + 2)
    n = ctx.scaled(20, 6)
    hands = [tuple(sorted(rng.randrange(1, 14) for _ in range(solver.MAX_CARDS))) for _ in range(n)]
    times = []
    for hand in hands:
        clear_solver_caches()
        t0 = time.perf_counter()
        solver.solve(hand)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    try:
        solver.solve(range(1, solver.MAX_CARDS + 3))
        refused = "NOT refused"
    except ValueError as err:
        refused = f"refused in {fmt_value(time.perf_counter() - t0, 'time')}: {err}"
    worst = max(times)
    return [
        Result(
            f"solve() {solver.MAX_CARDS}-card hand, cold, worst of {n}",
            "time",
            worst,
            None,
            SOLVE_TARGET,
            f"median {fmt_value(statistics.median(times), 'time')}; 7 cards: {refused}",
            error=None if refused.startswith("refused") else "a 7-card hand was not refused",
            extra={"seconds": times, "hands": hands},
        )
    ]


SECTIONS = (bench_verifier, bench_solver, bench_solver_limit, bench_reset, bench_hostile)
