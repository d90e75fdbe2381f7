//! Routes of one user's images: each reads its request's parts and calls its operation
//! in `crate::ops::images`.

use ds01_api::endpoints::ForceQuery;

use super::*;
use crate::ops::images as ops;

pub(super) async fn list_images(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<Vec<ds01_api::ImageRow>> {
    let acting = ctx.acting()?;
    Ok(Json(ops::list::list(&d, &acting).await?))
}

pub(super) async fn create_image(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let acting = ctx.acting()?;
    let request: ImageCreate = body(&bytes)?;
    Ok(crate::stream::respond(
        d.clone(),
        ctx.caller.uid,
        move |reporter| async move { ops::create::create(&d, &acting, request, reporter).await },
    ))
}

pub(super) async fn update_image(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let (acting, name) = (ctx.acting()?, image(&name)?);
    let request: ImageUpdate = body(&bytes)?;
    Ok(crate::stream::respond(
        d.clone(),
        ctx.caller.uid,
        move |reporter| async move { ops::update::update(&d, &acting, &name, request, reporter).await },
    ))
}

pub(super) async fn recreate_from_image(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, Failure> {
    let (acting, name) = (ctx.acting()?, image(&name)?);
    Ok(crate::stream::respond(
        d.clone(),
        ctx.caller.uid,
        move |reporter| async move { ops::recreate::recreate(&d, &acting, &name, reporter).await },
    ))
}

pub(super) async fn show_image(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
) -> Answer<ds01_api::ImageDetails> {
    let (acting, name) = (ctx.acting()?, image(&name)?);
    Ok(Json(ops::show::show(&d, &acting, &name).await?))
}

pub(super) async fn delete_image(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    Query(q): Query<ForceQuery>,
) -> Answer<ds01_api::Removed> {
    let (acting, name) = (ctx.acting()?, image(&name)?);
    Ok(Json(
        ops::delete::delete(&d, &acting, &name, q.force).await?,
    ))
}
