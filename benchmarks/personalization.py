"""Benchmark: next-best-action learned off-policy, against Vowpal Wabbit's --cb_explore_adf.

A simulated world with a known reward model (customer features x action, logistic), a
logged history drawn from a known softmax logging policy (propensities recorded), and
fresh customers. Both learners get the same log. Measured:

- the true expected reward per customer of each learned policy on fresh customers,
  next to the oracle (best action per customer), the logging policy and the best single
  action;
- decisions per second: ours on 1M customers (Thompson sampling with exact propensities,
  vectorised), VW through its Python bindings (one ``predict`` call per customer, the way
  it is used from Python).

VW runs in its own virtualenv (it is a benchmark-only reference, never a dependency):

    python3 -m venv /work/bench-venv-pers && /work/bench-venv-pers/bin/pip install vowpalwabbit numpy
    .venv/bin/python benchmarks/personalization.py [--log 200000] [--fresh 1000000]

Write the figures with ``--out benchmarks/results/personalization.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

D_FEATURES = 10
N_ACTIONS = 6


# ----------------------------------------------------------------------------- world


def make_world(seed: int, misspecified: bool = False) -> dict[str, np.ndarray]:
    """True reward weights and logging-policy weights.

    With ``misspecified``, the true logit also has a feature x feature term per action
    that neither learner's model (linear in the features per action) can represent.
    """
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 0.45, size=(N_ACTIONS, D_FEATURES))
    bias = rng.normal(-3.0, 0.3, size=N_ACTIONS)  # conversion rates of a few per cent
    # The logging policy is a marketer's rule of thumb: partly right, mostly habit.
    log_w = 0.5 * theta + rng.normal(0, 0.3, size=theta.shape)
    log_b = rng.normal(0, 0.3, size=N_ACTIONS)
    quad = rng.normal(0, 0.5, size=N_ACTIONS) if misspecified else np.zeros(N_ACTIONS)
    return {"theta": theta, "bias": bias, "log_w": log_w, "log_b": log_b, "quad": quad}


def customers(n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.normal(size=(n, D_FEATURES))
    x[:, 7:] = (x[:, 7:] > 0.5).astype(float)  # a few yes/no attributes
    return x


def true_probs(world: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    logit = x @ world["theta"].T + world["bias"] + np.outer(x[:, 0] * x[:, 1], world["quad"])
    out: np.ndarray = 1.0 / (1.0 + np.exp(-logit))
    return out


def logging_probs(world: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    s = (x @ world["log_w"].T + world["log_b"]) / 1.5
    s -= s.max(axis=1, keepdims=True)
    e = np.exp(s)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def make_log(world: dict[str, np.ndarray], n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = customers(n, rng)
    mu = logging_probs(world, x)
    a = (rng.random(n)[:, None] > np.cumsum(mu, axis=1)).sum(axis=1).clip(max=N_ACTIONS - 1)
    p = true_probs(world, x)[np.arange(n), a]
    r = (rng.random(n) < p).astype(float)
    return {"x": x, "a": a, "r": r, "p": mu[np.arange(n), a]}


# ----------------------------------------------------------------------------- VW worker


def vw_worker(data_path: str, result_path: str) -> None:
    """Runs inside the VW virtualenv: train on the log, score fresh customers."""
    import vowpalwabbit

    d = np.load(data_path)
    x, a, r, p, fresh = d["x"], d["a"], d["r"], d["p"], d["fresh"]
    passes = int(d["passes"])
    vw = vowpalwabbit.Workspace("--cb_explore_adf -q CA --epsilon 0.05 --quiet")
    actions = [f"|A a{j}" for j in range(N_ACTIONS)]

    def shared(row: np.ndarray) -> str:
        return "shared |C " + " ".join(f"f{i}:{v:.5f}" for i, v in enumerate(row))

    t0 = time.perf_counter()
    for _ in range(passes):
        for i in range(x.shape[0]):
            lines = [shared(x[i]), *actions]
            k = int(a[i]) + 1
            lines[k] = f"0:{-r[i]:.1f}:{p[i]:.6f} {lines[k]}"
            vw.learn(lines)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    chosen = np.empty(fresh.shape[0], dtype=np.int64)
    for i in range(fresh.shape[0]):
        pmf = vw.predict([shared(fresh[i]), *actions])
        chosen[i] = int(np.argmax(pmf))
    predict_s = time.perf_counter() - t0
    vw.finish()
    np.savez(result_path, chosen=chosen, fit_s=fit_s, predict_s=predict_s)


# ----------------------------------------------------------------------------- ours


def ours(log: dict[str, np.ndarray], fresh: np.ndarray, seed: int) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from agents.personalization import decide, fit_reward_model, importance_weights

    n = log["x"].shape[0]
    X = np.column_stack([np.ones(n), log["x"]])
    t0 = time.perf_counter()
    w = importance_weights(log["p"], n, 20.0)
    model = fit_reward_model(X, log["a"], log["r"], w, N_ACTIONS, kind="logistic")
    fit_s = time.perf_counter() - t0
    F = np.column_stack([np.ones(fresh.shape[0]), fresh]).astype(np.float32)
    rng = np.random.default_rng(seed)
    greedy = decide(model, F, exploration=0.0, samples=1, rng=rng)
    timings = []
    deployed = None
    for _ in range(3):
        t0 = time.perf_counter()
        deployed = decide(model, F, exploration=0.05, samples=16, rng=rng)
        timings.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    decide(model, F, exploration=0.0, samples=1, rng=rng)
    greedy_s = time.perf_counter() - t0
    assert deployed is not None
    return {
        "fit_s": fit_s,
        "greedy": greedy.action,
        "deployed": deployed.action,
        "deployed_s": min(timings),
        "greedy_s": greedy_s,
    }


# ----------------------------------------------------------------------------- main


def value(p_true: np.ndarray, chosen: np.ndarray) -> float:
    return float(p_true[np.arange(chosen.size), chosen].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", type=int, default=200_000, help="logged exposures")
    ap.add_argument("--fresh", type=int, default=1_000_000, help="fresh customers to assign")
    ap.add_argument("--vw-eval", type=int, default=50_000, help="fresh customers VW scores")
    ap.add_argument("--vw-passes", type=int, default=1, help="passes of VW over the log")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument(
        "--misspecified", action="store_true", help="true model has terms neither learner has"
    )
    ap.add_argument("--vw-python", default="/work/bench-venv-pers/bin/python")
    ap.add_argument("--out", type=Path, default=None, help="write a Markdown table here")
    args = ap.parse_args()

    world = make_world(args.seed, args.misspecified)
    log = make_log(world, args.log, args.seed + 1)
    fresh = customers(args.fresh, np.random.default_rng(args.seed + 2))
    p_true = true_probs(world, fresh)
    mu = logging_probs(world, fresh)
    oracle = float(p_true.max(axis=1).mean())
    logging_v = float((p_true * mu).sum(axis=1).mean())
    single = float(p_true.mean(axis=0).max())

    res = ours(log, fresh, args.seed)
    ev = slice(0, args.vw_eval)
    ours_greedy = value(p_true, res["greedy"])  # type: ignore[arg-type]
    ours_greedy_sub = value(p_true[ev], res["greedy"][ev])  # type: ignore[index]
    ours_deployed = value(p_true, res["deployed"])  # type: ignore[arg-type]

    vw: dict[str, float] | None = None
    vw_error = ""
    if Path(args.vw_python).exists():
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data.npz"
            out = Path(tmp) / "out.npz"
            np.savez(
                data,
                x=log["x"],
                a=log["a"],
                r=log["r"],
                p=log["p"],
                fresh=fresh[ev],
                passes=args.vw_passes,
            )
            proc = subprocess.run(
                [args.vw_python, __file__, "--vw-worker", str(data), str(out)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode == 0:
                o = np.load(out)
                vw = {
                    "value": value(p_true[ev], o["chosen"]),
                    "fit_s": float(o["fit_s"]),
                    "predict_s": float(o["predict_s"]),
                }
            else:
                vw_error = proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"
    else:
        vw_error = f"no VW virtualenv at {args.vw_python}"

    def gain(v: float) -> float:
        return (v - logging_v) / (oracle - logging_v)

    ours_dps = args.fresh / res["deployed_s"]
    rows = [
        ("Oracle (true best action per customer)", oracle, "", ""),
        ("Logging policy", logging_v, "", ""),
        ("Best single action", single, "", ""),
        (
            "Ours, greedy (posterior mean)",
            ours_greedy,
            f"{res['fit_s']:.2f} s",
            f"{args.fresh / res['greedy_s']:,.0f}",
        ),
        (
            "Ours, deployed (Thompson x16 + 5% exploration, exact propensities)",
            ours_deployed,
            f"{res['fit_s']:.2f} s",
            f"{ours_dps:,.0f}",
        ),
    ]
    if vw is not None:
        rows.append(
            (
                f"Ours, greedy, on VW's {args.vw_eval:,} eval customers",
                ours_greedy_sub,
                "",
                "",
            )
        )
        rows.append(
            (
                f"VW --cb_explore_adf -q CA, greedy ({args.vw_passes} pass)",
                vw["value"],
                f"{vw['fit_s']:.2f} s",
                f"{args.vw_eval / vw['predict_s']:,.0f}",
            )
        )
    lines = [
        f"Log: {args.log:,} exposures from a softmax logging policy over {N_ACTIONS} actions, "
        f"{D_FEATURES} customer features"
        + (" (true model misspecified for both learners)" if args.misspecified else "")
        + f"; fresh customers: {args.fresh:,}. "
        f"Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        "other work running concurrently.",
        "",
        "| policy | true expected reward / customer | share of oracle gain over logging "
        "| fit time | decisions / s |",
        "|---|---|---|---|---|",
    ]
    for name, v, fit, dps in rows:
        lines.append(f"| {name} | {v:.5f} | {gain(v):+.1%} | {fit} | {dps} |")
    lines.append("")
    lines.append(
        f"Ours: {args.fresh:,} customers assigned (Thompson x16, exploration, propensities) "
        f"in {res['deployed_s']:.2f} s."
    )
    if vw is not None:
        ratio = ours_dps / (args.vw_eval / vw["predict_s"])
        lines.append(
            f"Throughput ratio ours / VW Python loop: {ratio:,.0f}x. "
            f"Reward difference ours - VW on the same customers: "
            f"{ours_greedy_sub - vw['value']:+.5f}."
        )
    else:
        lines.append(f"VW not run: {vw_error}")
    text = "\n".join(lines)
    print(text)
    print(json.dumps({"ours_greedy": ours_greedy, "vw": vw, "oracle": oracle}, indent=None))
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--vw-worker":
        vw_worker(sys.argv[2], sys.argv[3])
    else:
        main()
