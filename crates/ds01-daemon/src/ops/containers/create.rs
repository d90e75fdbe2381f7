//! `POST /v1/containers`: a container `<name>._.<uid>` for the acting user, with the
//! admin's policy applied; the outcome is an event either way.

use ds01_api::{ApiError, ContainerCreate, CreatedContainer, ErrorCode};
use ds01_engine::{EngineError, Scope};
use ds01_policy::{AllocRequest, Effective, GpuAsk};

use super::prepare::{self, Make};
use crate::caller::Acting;
use crate::disk::ImageStorage;
use crate::errors::{from_engine, from_limit};
use crate::stream::Reporter;
use crate::user_lock::Section;
use crate::Daemon;

/// Creates the container. `section` is the caller's, when it already counts inside the
/// user's critical section (a recreate, which must not lose the slot it just freed).
pub async fn create(
    d: &Daemon,
    acting: &Acting,
    request: ContainerCreate,
    reporter: Reporter,
    section: Option<Section>,
) -> Result<CreatedContainer, ApiError> {
    let key = request.name.owned_by(acting.who.uid());
    let outcome = unrecorded(d, acting, request, reporter, section).await;
    let record = |kind: &str, detail: String| d.events.record_for(acting, &key, kind, detail);
    match &outcome {
        Ok(created) => {
            record(
                "create",
                format!(
                    "created from {} ({})",
                    created.image,
                    created.user_setup.as_str()
                ),
            );
            if !created.gpus.is_empty() {
                record(
                    "gpu_bound",
                    format!("bound GPU(s) {}", created.gpus.join(", ")),
                );
            }
            if created.started {
                record("start", "started by its owner".into());
            }
        }
        Err(e)
            if matches!(
                e.code,
                ErrorCode::Limit | ErrorCode::Forbidden | ErrorCode::Busy
            ) =>
        {
            record("refused", format!("create refused: {}", e.message));
        }
        Err(_) => {}
    }
    outcome
}

/// The count of containers and of GPUs and the engine container they allow happen inside
/// the user's section, so parallel requests cannot all pass one count. The container
/// exists before the section is left (it counts from then on, by its name), and with
/// `--start` it runs, so its devices count by its labels. Only a `--wait` request queues
/// for devices outside the section (a queued request must not stop its owner's other
/// requests); its grant is counted again inside.
async fn unrecorded(
    d: &Daemon,
    acting: &Acting,
    request: ContainerCreate,
    reporter: Reporter,
    section: Option<Section>,
) -> Result<CreatedContainer, ApiError> {
    if let Some(cluster) = &d.config.cluster {
        // A Slurm job: Slurm's queue is the wait, the user's section is taken there.
        return crate::ops::cluster::create::create(d, cluster, acting, request).await;
    }
    let who = &acting.who;
    let key = request.name.owned_by(who.uid());
    let effective = acting.policy(&d.config);
    let section = match section {
        None if !request.wait => Some(d.user_locks.enter(who.uid()).await),
        given_or_waiting => given_or_waiting,
    };
    // Outside the section (a `--wait` request) this count only spares a request over its
    // cap the queue; it is taken again inside.
    check_count(d, acting, &effective).await?;
    let resolved = prepare::resolve(d, acting, &request).await?;
    let cap = effective.max_gpus.value.value().unwrap_or(f64::INFINITY);
    let name_cap = |mut e: ApiError| {
        if e.code == ErrorCode::Limit {
            e.message = format!("{}: {}", e.message, effective.max_gpus);
        }
        e
    };
    let reservation = match resolved.ask.clone() {
        GpuAsk::None => None,
        ask => Some(
            d.gpus
                .reserve(
                    &d.engine,
                    &key,
                    AllocRequest {
                        uid: who.uid(),
                        ask,
                        max_gpus: cap,
                        allow_device_pick: effective.allow_device_pick.value,
                    },
                    request.wait.then(|| crate::gpus::Wait {
                        reporter: &reporter,
                        user: who.login().to_owned(),
                        usage: crate::usage::read::decayed_gpu_seconds(d, who.uid()),
                    }),
                )
                .await
                .map_err(name_cap)?,
        ),
    };
    if let Some(r) = reservation.as_ref().filter(|r| r.waited) {
        crate::notify::to_user(
            d,
            who.uid(),
            format!(
                "ds01: your turn: GPU(s) {} granted for container {key} after waiting in line",
                r.allocation.uuids().join(", ")
            ),
        );
    }
    let _section = match section {
        Some(s) => s,
        None => {
            let s = d.user_locks.enter(who.uid()).await;
            check_count(d, acting, &effective).await?;
            if let Some(r) = &reservation {
                d.gpus
                    .recheck(&d.engine, &key, who.uid(), &r.allocation, cap)
                    .await
                    .map_err(name_cap)?;
            }
            s
        }
    };
    let allocation = reservation
        .as_ref()
        .map(|r| r.allocation.clone())
        .unwrap_or_default();
    let prepared = prepare::assemble(
        d,
        acting,
        &effective,
        &request,
        resolved,
        &allocation,
        Make::Yes,
    )
    .await?;
    let create = prepared.create;
    // From here a failure takes back the workspace directory this create made; once the
    // container exists (even if it then fails to start) the directory is its own.
    let undo = |made: Option<crate::workspace::Made>| {
        if let Some(made) = made {
            made.undo();
        }
    };
    let points = create.options.mount_points.clone();
    let storage = ImageStorage::of(&d.engine, &d.config, acting);
    if let Err(e) = storage.check_commit(who, &create).await {
        undo(prepared.made);
        if let Some(points) = &points {
            crate::binds::forget(points);
        }
        return Err(e);
    }
    let gone = reporter.gone();
    let mut progress = move |p| reporter.report(p);
    let mut created = match d
        .engine
        .create_container(who, &create, &mut progress, gone)
        .await
    {
        Ok(created) => created,
        Err(e) => {
            undo(prepared.made);
            // The points of a container that was not made go with it; those of one that
            // exists under the name already are its own.
            if let (Some(points), false) =
                (points, matches!(e, EngineError::ContainerExists { .. }))
            {
                crate::binds::forget(&points);
            }
            return Err(from_engine(e));
        }
    };
    if request.start {
        let bound = crate::binds::bind_for_start(
            &d.engine,
            &d.state_dir,
            &d.config.file.mount_roots,
            &key,
            false,
        )
        .await?;
        d.engine.start_container(&key).await.map_err(from_engine)?;
        drop(bound);
        created.started = true;
    }
    created.gpus = allocation.uuids().iter().map(|u| u.to_string()).collect();
    // A running container now holds its devices by its labels; a stopped one holds none.
    drop(reservation);
    Ok(created)
}

/// Refuses a new container over the user's `max_containers`. The count is of the engine's
/// containers by name, so it survives a ds01d restart and includes a container a killed
/// ds01d left halfway.
async fn check_count(d: &Daemon, acting: &Acting, effective: &Effective) -> Result<(), ApiError> {
    let mine = d
        .engine
        .list_containers(Scope::User(&acting.who))
        .await
        .map_err(from_engine)?;
    effective
        .check_new_container(mine.len() as u32)
        .map_err(from_limit)
}
