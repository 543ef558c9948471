"""Budget allocation: learn each channel's response curve from spend history, then find
the best split of the budget under the goal's and the brand's constraints.

Registered as ``budget_allocation``. See ``docs/agent-budget.md``.
"""

from agents.budget._agent import BudgetAllocationAgent
from agents.budget._model import Fit, History, LiftTest, Params, fit_model
from agents.budget._optimize import InfeasibleBounds, ResponseCurves, Solution, maximise
from agents.budget._schema import (
    BudgetPlan,
    BudgetSpec,
    ChannelPlan,
    CurveParams,
    Estimate,
    FitDiagnostics,
    LiftCheck,
)

__all__ = [
    "BudgetAllocationAgent",
    "BudgetPlan",
    "BudgetSpec",
    "ChannelPlan",
    "CurveParams",
    "Estimate",
    "Fit",
    "FitDiagnostics",
    "History",
    "InfeasibleBounds",
    "LiftCheck",
    "LiftTest",
    "Params",
    "ResponseCurves",
    "Solution",
    "fit_model",
    "maximise",
]
