"""Engine: plans runs and dispatches them when they are due.

Owns the `sched`-based event queue on monotonic time, planning (the next slot
of a task from its previous one, pure), the policies (overlap, misfire,
retry), the run book (run numbers, runs in flight, results, listeners) and
the queue decisions it can explain (`Decision`, the teaching view).
Never runs task code (it hands runs to an `Executor`), never reads a config
file, and never imports an add-on: add-ons listen to its run events.
"""

from .decisions import Decision, DecisionKind, DecisionListener
from .engine import Engine

__all__ = ["Decision", "DecisionKind", "DecisionListener", "Engine"]
