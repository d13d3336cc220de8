"""The job machinery shared by imports, broadcasts and previews: a job advances in
resumable steps on the job queue; each step works within a ``StepBudget``, saves its
cursor, and says what happened with a ``StepOutcome``; ``JobStepQueue`` puts the next
step of a job on the queue."""

from linecrm.jobs.queue import JobStepQueue
from linecrm.jobs.steps import StepBudget, StepOutcome

__all__ = ["JobStepQueue", "StepBudget", "StepOutcome"]
