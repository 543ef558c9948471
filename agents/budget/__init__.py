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
    ForecastScores,
    LiftCheck,
    Validation,
)
from agents.budget._validate import validate

__all__ = [
    "BudgetAllocationAgent",
    "BudgetPlan",
    "BudgetSpec",
    "ChannelPlan",
    "CurveParams",
    "Estimate",
    "Fit",
    "FitDiagnostics",
    "ForecastScores",
    "History",
    "InfeasibleBounds",
    "LiftCheck",
    "LiftTest",
    "Params",
    "ResponseCurves",
    "Solution",
    "Validation",
    "fit_model",
    "maximise",
    "validate",
]
