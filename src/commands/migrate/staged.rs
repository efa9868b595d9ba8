//! `migrate`'s export and `apply` overlapped: the plan is made in stages as the export reads,
//! and each stage is applied while the export goes on, so that the Public API's writes run
//! during the Config API's reads instead of after them.
//!
//! The stages ([`crate::plan::staged`]): the sources with what was read before them, then what
//! hangs below no source (tracking plans and their connections, IAM), then the subtrees of the
//! sources read since (schema settings, destinations, filters) once a [`SUBTREES_PER_STAGE`]th
//! of the sources or more are waiting (that many a stage), then, when the export is complete,
//! the rest (the last subtrees, the delivery metrics). The apply of a stage sends its items but
//! the enabling of sources (`--enable`): a stage's destinations are enabled after their
//! filters, and receive nothing while their source is disabled; the sources of the whole plan
//! are enabled last, once every stage is applied, so that no data flows in a workspace still
//! being built.
//!
//! When: on a target that holds nothing the plan could match
//! ([`staged::target_holds_nothing_to_match`], checked by `migrate` before it starts): a conflict found in a late stage would come
//! after the early stages were applied, while `--on-conflict fail` promises that nothing is.
//! Otherwise `migrate` exports, plans and applies one after the other.
//!
//! Resuming: a plan being made in stages is stored incomplete until its last stage. A `migrate`
//! that finds one goes on with it: the export resumes (or is not run again when it completed),
//! the target is read again without what the id map says segbridge created in it, and the
//! objects no stored stage holds are planned. The first apply of a run covers every stored
//! stage, so that what a stopped run stored and did not finish is sent (or reconciled) first.

use std::collections::HashSet;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use futures::future::{self, MaybeDone};
use tokio::sync::Notify;

use super::{alongside, apply_args, export_args, say};
use crate::apply::{ApplyReport, Scope};
use crate::cli::{ApplyArgs, GlobalArgs, MigrateArgs};
use crate::commands::apply::Session;
use crate::commands::plan::{summary_json, summary_text as plan_summary_text, write_reports};
use crate::commands::reporters::{self, CliReporter};
use crate::commands::{ExitStatus, Summary, export};
use crate::export::Ready;
use crate::ledger::{Ledger, RunId, RunStatus, StoredPlan};
use crate::mapping::Tables;
use crate::plan::staged::{self, Stage, StagePlanner};
use crate::plan::{Mode, PlanOptions, TargetView};
use crate::secrets::HeldSecrets;

/// A stage of subtrees is planned once this fraction of the sources (1/n) waits, and takes that
/// many (the rest go to the next stages), or at the end: each stage reads the plan stored so far
/// again (what earlier stages decided, the ids known), so a stage per source would cost that
/// many times the plan; a 32nd of the sources is about a second of writes on `large` at
/// `--time-scale 60`, the most that is left to send after the export ends.
pub const SUBTREES_PER_STAGE: usize = 32;

/// What the overlapped steps gave, as `migrate` reports its steps.
pub(super) struct Outcome {
    pub export: Option<Summary>,
    pub plan: Option<Summary>,
    pub apply: Option<Summary>,
    pub status: ExitStatus,
}

/// What the export has said so far.
#[derive(Debug, Default)]
struct Progress {
    run: Option<RunId>,
    /// How many sources the export found, once it has read them.
    sources: Option<usize>,
    /// Whether what hangs below no source is read.
    others: bool,
    /// The sources whose subtrees are read, in the order they were.
    subtrees: Vec<String>,
    /// Bumped at each change, for the stager to tell news.
    version: u64,
    /// Set when the export has ended: whether it completed.
    ended: Option<bool>,
}

/// [`Progress`] as the stager reads it: the subtrees it has not seen yet rather than all.
struct News {
    run: Option<RunId>,
    sources: Option<usize>,
    others: bool,
    new_subtrees: Vec<String>,
    version: u64,
    ended: Option<bool>,
}

/// The export's progress, shared with the stager, which waits for news.
#[derive(Default)]
struct Shared {
    progress: Mutex<Progress>,
    changed: Notify,
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut Progress)) {
        {
            let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
            change(&mut progress);
            progress.version += 1;
        }
        self.changed.notify_one();
    }

    fn ready(&self, ready: Ready<'_>) {
        self.update(|p| match ready {
            Ready::Run(run) => p.run = Some(run),
            Ready::Sources(n) => p.sources = Some(n),
            Ready::Others => p.others = true,
            Ready::Subtree(source) => p.subtrees.push(source.to_owned()),
        });
    }

    /// The progress once it differs from the one of `version` (at once without one), with the
    /// subtrees read from the `from`th on (the stager has seen those before: they are not
    /// copied again at each of the hundreds of subtrees a large workspace reports).
    async fn news_after(&self, version: Option<u64>, from: usize) -> News {
        loop {
            let changed = self.changed.notified();
            {
                let p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
                if Some(p.version) != version {
                    return News {
                        run: p.run,
                        sources: p.sources,
                        others: p.others,
                        new_subtrees: p.subtrees.get(from..).unwrap_or_default().to_vec(),
                        version: p.version,
                        ended: p.ended,
                    };
                }
            }
            changed.await;
        }
    }
}

/// Leaves out of `view` what the ledger's id map says segbridge created in `target` (or found
/// there after an unclear create): a run going on with a plan in stages matches the objects
/// it has not planned yet against the target as the first run found it.
pub(super) fn leave_out_ours(
    ledger: &Ledger,
    target: &str,
    view: &mut TargetView,
) -> anyhow::Result<()> {
    let ours: HashSet<String> = ledger
        .id_map(target)?
        .into_iter()
        .filter(|p| p.matched_by == "created" || p.matched_by == "reconciled")
        .map(|p| p.public_id)
        .collect();
    staged::leave_out(view, &ours);
    Ok(())
}

/// Runs the export with the plan and `apply` in stages beside it; `resumed` is the plan a
/// stopped run left incomplete. Once the export is complete, the audit's read of the source
/// (`reading`) begins beside the last stages.
pub(super) async fn run<F: Future>(
    args: &MigrateArgs,
    global: &GlobalArgs,
    target: &str,
    view: TargetView,
    read_requests: u64,
    resumed: Option<StoredPlan>,
    mut reading: Pin<&mut MaybeDone<F>>,
) -> anyhow::Result<Outcome> {
    let shared = Shared::default();
    // The export's secret values in clear, for the writes of the next stages (a
    // request per destination otherwise, on the Config API's limit the export needs).
    let held_secrets = HeldSecrets::default();
    // One progress display for the export and the stages' writes: two would draw over each
    // other on a terminal.
    let shown: Arc<dyn CliReporter> =
        Arc::from(reporters::for_command(args.run.json_progress, global));
    let tables = Arc::new(match &args.mappings {
        Some(dir) => Tables::load(dir)
            .with_context(|| format!("Cannot load the mapping tables of `{}`", dir.display()))?,
        None => Tables::embedded().clone(),
    });
    let export_done = match &resumed {
        Some(plan) => {
            let ledger = Ledger::inspect(&args.run.ledger)?;
            ledger
                .runs()?
                .iter()
                .any(|r| r.id == plan.export_run && r.status == RunStatus::Complete)
        }
        None => false,
    };
    if export_done {
        let run = resumed.as_ref().map(|p| p.export_run);
        shared.update(|p| {
            p.run = run;
            p.ended = Some(true);
        });
        say(
            global,
            "The export is complete; planning and applying the rest",
        )?;
    } else {
        say(
            global,
            "Steps 1-3/4: export, with the plan made and applied in stages as it reads (the target holds nothing a plan could match)",
        )?;
    }
    let exporting = async {
        if export_done {
            return None;
        }
        let finished = export::execute_observed(
            &export_args(args),
            global,
            &|ready| shared.ready(ready),
            Some(shown.clone()),
            Some(held_secrets.clone()),
        )
        .await;
        let complete = matches!(&finished, Ok(f) if f.status == ExitStatus::Success);
        shared.update(|p| p.ended = Some(complete));
        Some(finished)
    };
    let mut exporting = pin!(future::maybe_done(exporting));
    // Beside the stages: the export, then the audit's read of the source once it completed.
    let beside = async {
        exporting.as_mut().await;
        let complete = shared
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ended
            == Some(true);
        if complete {
            reading.as_mut().await;
        }
        future::pending::<()>().await
    };
    let stager = Stager {
        args,
        global,
        target,
        view: Arc::new(view),
        tables,
        shared: &shared,
        read_requests,
        planner: PlannerThread::start()?,
        shown: shown.clone(),
        held_secrets: held_secrets.clone(),
    };
    let staged = alongside(stager.run(resumed), pin!(future::maybe_done(beside))).await;
    shown.finish();
    let export = match exporting.as_mut().take_output().flatten() {
        Some(finished) => Some(finished?),
        None => None,
    };
    let staged = staged?;
    let status = match &export {
        Some(finished) if finished.status != ExitStatus::Success => finished.status,
        _ => staged.status,
    };
    Ok(Outcome {
        export: export.map(|f| f.summary),
        plan: staged.plan,
        apply: staged.apply,
        status,
    })
}

/// Adds what one send wrote to the report of the run (none before its first send).
fn add_to(report: &mut Option<ApplyReport>, sent: ApplyReport) {
    match report {
        Some(report) => report.merge(sent),
        None => *report = Some(sent),
    }
}

/// What the stages gave.
struct Stages {
    plan: Option<Summary>,
    apply: Option<Summary>,
    status: ExitStatus,
}

struct Stager<'a> {
    args: &'a MigrateArgs,
    global: &'a GlobalArgs,
    target: &'a str,
    view: Arc<TargetView>,
    tables: Arc<Tables>,
    shared: &'a Shared,
    /// The requests that read the target.
    read_requests: u64,
    planner: PlannerThread,
    /// The progress display the export shares.
    shown: Arc<dyn CliReporter>,
    /// The secret values the export read in clear.
    held_secrets: HeldSecrets,
}

/// The thread the stages are planned on, one for the whole run. Planning is work for the CPU
/// that the export and `apply` must not wait for; one thread of its own, rather than the
/// runtime's pool of blocking threads, keeps the stages' planner (its ledger connection and
/// what the stored stages decided) from one stage to the next.
struct PlannerThread {
    jobs: std::sync::mpsc::Sender<Job>,
}

/// Work for the planner's thread, given the stages' planner (opened by the first job).
type Job = Box<dyn FnOnce(&mut Option<StagePlanner>) + Send>;

impl PlannerThread {
    fn start() -> anyhow::Result<PlannerThread> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("segbridge-planner".into())
            .spawn(move || {
                let mut planner = None;
                queue.into_iter().for_each(|job| job(&mut planner));
            })
            .context("Cannot start the planner's thread")?;
        Ok(PlannerThread { jobs })
    }

    /// Runs `job` on the thread and waits for its result.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Option<StagePlanner>) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |planner: &mut Option<StagePlanner>| {
                let _ = answer.send(job(planner));
            }))
            .ok()
            .context("The planner's thread has stopped")?;
        answered.await.context("The planner's thread has stopped")
    }
}

impl Stager<'_> {
    fn options(&self) -> PlanOptions {
        PlanOptions {
            mode: Mode::Create,
            on_conflict: self.args.on_conflict,
        }
    }

    /// Plans and applies a stage each time enough is read, until the export ends.
    async fn run(self, resumed: Option<StoredPlan>) -> anyhow::Result<Stages> {
        let apply_args = apply_args(self.args);
        // Opened by the first stage to send (see `Stager::session`).
        let mut session: Option<Session> = None;
        let mut plan = resumed;
        let mut report: Option<ApplyReport> = None;
        // The first apply of this run covers every stored stage (see the module doc).
        let mut applied_to = 0;
        let mut sources_planned = false;
        let mut others_planned = false;
        let mut subtrees_planned = 0;
        let mut stages = 0;
        let mut version = 0;
        // More subtrees wait than the last stage took: the next one is planned without waiting
        // for news.
        let mut backlog = false;
        let complete = loop {
            let since = (!backlog).then_some(version);
            let progress = self.shared.news_after(since, subtrees_planned).await;
            version = progress.version;
            let Some(export_run) = progress.run else {
                if progress.ended.is_some() {
                    break false;
                }
                continue;
            };
            if progress.ended == Some(false) {
                break false;
            }
            let everything = progress.ended == Some(true);
            let mut next = Vec::new();
            if !sources_planned && (progress.sources.is_some() || everything) {
                next.push(Stage::Sources);
            }
            if !others_planned && progress.others && !everything {
                next.push(Stage::Others);
            }
            let waiting = progress.new_subtrees.len();
            let batch = progress
                .sources
                .unwrap_or(0)
                .div_ceil(SUBTREES_PER_STAGE)
                .max(1);
            backlog = false;
            if everything {
                next.push(Stage::Rest);
            } else if (sources_planned || !next.is_empty()) && waiting >= batch {
                // A stage of subtrees keeps them mapped while it decides (see
                // `StagePlanner::plan`), so it takes `batch` of them at most: while `apply` sent
                // a stage, the export read more, and a stage that took all that waited held
                // twice as many (7 MB mapped at the peak of `large`).
                next.push(Stage::Subtrees(progress.new_subtrees[..batch].to_vec()));
                backlog = waiting - batch >= batch;
            }
            if next.is_empty() {
                continue;
            }
            let plan = match &plan {
                Some(plan) => plan.clone(),
                None => plan.insert(self.begin(export_run)?).clone(),
            };
            if plan.export_run != export_run {
                anyhow::bail!(
                    "plan {} was being made from export run {}, but the export now reads run {}; \
                     run `segbridge plan --on-conflict adopt` and `segbridge apply` to take over what was created",
                    plan.id,
                    plan.export_run.0,
                    export_run.0
                );
            }
            let mut planned_to = applied_to;
            for stage in next {
                // Only a stage of subtrees (or the rest) plans the subtrees waiting: a stage of
                // the sources or the others alone leaves them for the next one.
                match &stage {
                    Stage::Subtrees(sources) => subtrees_planned += sources.len(),
                    Stage::Rest => subtrees_planned += progress.new_subtrees.len(),
                    Stage::Sources | Stage::Others => {}
                }
                planned_to = self.plan_stage(&plan, export_run, stage).await?.end;
                stages += 1;
            }
            sources_planned = true;
            others_planned |= progress.others;
            if applied_to < planned_to {
                let session = self.session(&mut session, &apply_args).await?;
                let stage = session
                    .send(&apply_args, &plan, Scope::stage(applied_to..planned_to))
                    .await?;
                applied_to = planned_to;
                add_to(&mut report, stage);
            }
            if everything {
                break true;
            }
        };
        let Some(plan) = plan else {
            return Ok(Stages {
                plan: None,
                apply: None,
                status: ExitStatus::Failure,
            });
        };
        let mut status = ExitStatus::Failure;
        let mut plan_summary = None;
        if complete {
            let ledger = Ledger::open(&self.args.run.ledger)?;
            ledger.complete_plan(plan.id)?;
            let session = self.session(&mut session, &apply_args).await?;
            // A misspelt entry of the secrets file shows only against the whole plan, and
            // stops the run before the sources are enabled.
            session.check_secrets(&plan)?;
            let enabled = session
                .send(&apply_args, &plan, Scope::ENABLING_SOURCES)
                .await?;
            add_to(&mut report, enabled);
            // The plan's summary and reports once nothing is left to send: no write waits for
            // them.
            let outline = staged::stored_outline(&ledger, plan.id, self.options())?;
            // Only a resumed run can meet a conflict (an object someone made in the target
            // meanwhile): its item is not applied, and the run says so as `plan` would.
            let conflicts = outline.blocking_conflicts();
            let workspace = ledger
                .exported_from(&plan)?
                .map(|(_, workspace)| workspace)
                .unwrap_or_default();
            if !self.global.quiet {
                self.shown.print(&format!(
                    "{}Planned in {stages} stages as the export read\n",
                    plan_summary_text(&outline, &workspace, self.target, &self.args.run.ledger)
                ));
            }
            self.shown.print(&write_reports(
                &ledger,
                self.target,
                &self.args.api,
                &self.args.report,
                self.global,
            )?);
            let pairs = ledger.plan_pair_count(plan.id)?;
            let mut json = summary_json(
                &outline,
                plan.id,
                self.target,
                &workspace,
                self.read_requests,
            );
            json["id_map_pairs"] = pairs.into();
            plan_summary = Some(Box::new(json) as Summary);
            status = if conflicts > 0 {
                ExitStatus::Failure
            } else {
                ExitStatus::Success
            };
        }
        let apply = match (report, session) {
            (Some(report), Some(session)) => {
                let finished = session.finish(&report, self.global)?;
                if status == ExitStatus::Success {
                    status = finished.status;
                }
                Some(finished.summary)
            }
            _ => None,
        };
        Ok(Stages {
            plan: plan_summary,
            apply,
            status,
        })
    }

    /// The `apply` session of the run, opened by its first stage (the export creates the
    /// ledger): progress on the export's display, secrets from what the export read.
    async fn session<'s>(
        &self,
        session: &'s mut Option<Session>,
        apply_args: &ApplyArgs,
    ) -> anyhow::Result<&'s mut Session> {
        Ok(match session {
            Some(session) => session,
            None => session.insert(
                Session::open(apply_args, self.global, Some(self.shown.clone()))
                    .await?
                    .with_held_secrets(self.held_secrets.clone()),
            ),
        })
    }

    /// Starts the plan of this target from the export `export_run`.
    fn begin(&self, export_run: RunId) -> anyhow::Result<StoredPlan> {
        let mut ledger = Ledger::open(&self.args.run.ledger)?;
        let run = ledger.begin_run("plan", self.target)?;
        let options = self.options();
        ledger.begin_staged_plan(
            run,
            export_run,
            self.target,
            options.mode,
            options.on_conflict,
        )?;
        ledger
            .latest_plan(self.target)?
            .context("the plan just stored cannot be read back")
    }

    /// Plans what `stage` holds and no stage planned yet, on the planner's thread (the export
    /// and `apply` go on meanwhile); returns the `seq`s of the stage.
    async fn plan_stage(
        &self,
        plan: &StoredPlan,
        export_run: RunId,
        stage: Stage,
    ) -> anyhow::Result<std::ops::Range<i64>> {
        let (path, target) = (self.args.run.ledger.clone(), self.target.to_owned());
        let (tables, view, options) = (self.tables.clone(), self.view.clone(), self.options());
        let id = plan.id;
        self.planner
            .run(move |planner| {
                let planner = match planner {
                    Some(planner) => planner,
                    None => planner.insert(StagePlanner::open(
                        &path, id, &target, export_run, tables, view, options,
                    )?),
                };
                planner.plan(&stage)
            })
            .await?
            .context("Cannot store a stage of the plan")
    }
}
