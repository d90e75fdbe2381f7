//! Routes of one user's images.

use ds01_api::endpoints::ForceQuery;

use super::*;

pub(super) async fn list_images(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<Vec<ds01_api::ImageRow>> {
    let acting = ctx.acting()?;
    Ok(Json(d.list_images(&acting).await?))
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
        move |reporter| async move { d.create_image(&acting, request, reporter).await },
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
        move |reporter| async move { d.update_image(&acting, &name, request, reporter).await },
    ))
}

pub(super) async fn show_image(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
) -> Answer<ds01_api::ImageDetails> {
    let (acting, name) = (ctx.acting()?, image(&name)?);
    Ok(Json(d.show_image(&acting, &name).await?))
}

pub(super) async fn delete_image(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    Query(q): Query<ForceQuery>,
) -> Answer<ds01_api::Removed> {
    let (acting, name) = (ctx.acting()?, image(&name)?);
    Ok(Json(d.delete_image(&acting, &name, q.force).await?))
}
