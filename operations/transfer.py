"""`import` and `merge` as pipeline jobs: the bundle's threads planned against this home, the
rollouts staged (inside the home) just before the first write, each thread one operation."""

from __future__ import annotations

from dataclasses import dataclass, field

from journal.clock import Services
from journal.errors import io_failure
from operations.bundle import Bundle
from operations.pipeline import Job, Preview
from operations.repair.importing import ImportOptions, ImportPlan, plan_import, staging_folder, write_staging
from operations.repair.plan import Plan
from operations.repair.selection import RepairContext, ThreadFilter


@dataclass
class ImportJob:
    """The job, and once previewed what it planned besides the operations (skipped, conflicts)."""

    job: Job
    planned: list[ImportPlan] = field(default_factory=list)

    @property
    def plan(self) -> ImportPlan:
        return self.planned[-1]


def import_job(bundle: Bundle, opts: ImportOptions, services: Services, operation: str) -> ImportJob:
    stamp = services.clock.now().strftime("%Y%m%dT%H%M%S") + "-" + services.ids.new_id()[-8:]
    out = ImportJob(Job(operation, ()))

    def planner(ctx: RepairContext, _flt: ThreadFilter) -> Plan:
        out.planned.append(plan_import(ctx, bundle, opts, staging_folder(ctx.home, stamp), operation=operation))
        return out.plan.plan

    def stage(seen: Preview) -> None:
        try:
            write_staging(out.plan.staged, opts, seen.home.guard())
        except OSError as exc:
            raise io_failure(exc, "staging the rollouts:", "Nothing was changed in the home (what was staged is "
                             "removed again); free space, then run the command again") from None

    out.job = Job(operation, (planner,), all_databases=True, before_write=stage,
                  meta={"operation": operation, "options": opts.describe(), "source": bundle.source})
    return out
