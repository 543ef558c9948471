"""``conductor demo``: a synthetic marketing world with a known truth, and the check against it.

Nothing in the framework imports this package; the CLI loads it when ``demo`` runs.
``_data`` generates the world (customers, journeys, spend, offers; the models in
``_models``, one module per data set), ``_run`` runs the growth pipeline on it, and
``_truth`` compares every agent's answer with the truth that made the data.
"""

from conductor.demo._data import DemoTruth, generate_demo_data, load_truth
from conductor.demo._run import prepare_pipeline, run_demo
from conductor.demo._truth import truth_check

__all__ = [
    "DemoTruth",
    "generate_demo_data",
    "load_truth",
    "prepare_pipeline",
    "run_demo",
    "truth_check",
]
