//! The service's operations, one a file, as the routes call them (`server/`): a newcomer
//! finds `pause` in `containers/pause.rs`. Each is a function of the service's state
//! ([`Daemon`](crate::Daemon)) and the request's typed parts; what several share (the create
//! pipeline, the GPUs a start binds again, a build) has a module of its own beside them.

pub mod admin;
pub mod cancel;
pub mod cluster;
pub mod containers;
pub mod doctor;
pub mod events;
pub mod images;
pub mod limits;
pub mod status;
pub mod usage;
