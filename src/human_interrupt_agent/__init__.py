"""A human-in-the-loop agent: high-risk tool calls pause until a person decides.

The package is standard-library only at import time; mlflow (for logging and serving) and pandas
(serving input) are used only when present.
"""

from __future__ import annotations

from human_interrupt_agent.graph import (
    AgentConfig,
    AgentError,
    AgentGraph,
    Interrupt,
    Rule,
    RunResult,
)
from human_interrupt_agent.model import InterruptAgentModel

__version__ = "0.1.0"

__all__ = [
    "AgentConfig",
    "AgentError",
    "AgentGraph",
    "Interrupt",
    "InterruptAgentModel",
    "Rule",
    "RunResult",
    "__version__",
]
