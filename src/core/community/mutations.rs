//! The community's mutations. Each needs an authenticated viewer (`UNAUTHENTICATED`
//! otherwise) and is one transaction in the source. Invalid input comes back as
//! `userErrors` (nothing changed); acting on another user's collage is `FORBIDDEN`.

use std::sync::Arc;

use async_graphql::{ID, InputObject};

use crate::core::errors::{ApiError, ApiResult};
use crate::core::ids::{GlobalId, Kind};
use crate::core::tags::{Changed, Tag};
use crate::protocols::community::{
    CollageDraft, CollagePatch, CollageRecord, CommunitySource, WriteError,
};
use crate::protocols::{CatalogSource, ProductRecord};

const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 2000;
const MAX_TAGS: usize = 10;
const MAX_TAG: usize = 50;
const MAX_ITEMS: usize = super::MAX_ITEMS as usize;

/// Why a part of a mutation's input was refused.
#[derive(Copy, Clone, Eq, PartialEq, Debug)]
pub(super) enum UserErrorCode {
    /// Malformed or out of range.
    Invalid,
    /// Too short, too long or too many.
    Length,
    /// Names something that does not exist.
    NotFound,
}

/// A problem with the input, for showing next to the form field it concerns.
#[derive(Debug, Clone)]
pub(super) struct UserError {
    /// The path of the input field, e.g. `["items", "2", "productId"]`.
    pub field: Vec<String>,
    pub message: String,
    pub code: UserErrorCode,
}

fn user_error(field: &[&str], code: UserErrorCode, message: impl Into<String>) -> UserError {
    UserError {
        field: field.iter().map(|f| (*f).to_owned()).collect(),
        message: message.into(),
        code,
    }
}

/// A product placed on the canvas.
#[derive(InputObject, Debug)]
pub(super) struct CollageItemInput {
    pub product_id: ID,
    /// 0 (left) to 1 (right).
    pub x: f64,
    /// 0 (top) to 1 (bottom).
    pub y: f64,
    /// 0.1 to 10.
    #[graphql(default = 1.0)]
    pub scale: f64,
}

#[derive(InputObject, Debug)]
pub(super) struct CreateCollageInput {
    /// 1 to 200 characters.
    pub title: String,
    /// Up to 2000 characters.
    #[graphql(default)]
    pub description: String,
    /// Up to 10 tags of lowercase letters, digits and `-`.
    #[graphql(default)]
    pub tags: Vec<String>,
    /// 1 to 50 products, in canvas order.
    pub items: Vec<CollageItemInput>,
}

/// A change to a collage of the viewer's; absent fields stay as they are.
#[derive(InputObject, Debug)]
pub(super) struct UpdateCollageInput {
    pub id: ID,
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub items: Option<Vec<CollageItemInput>>,
}

fn text(value: &str, field: &str, min: usize, max: usize, errors: &mut Vec<UserError>) -> String {
    let value = value.trim().to_owned();
    let length = value.chars().count();
    if length < min || length > max {
        errors.push(user_error(
            &[field],
            UserErrorCode::Length,
            format!("{field} must be {min} to {max} characters"),
        ));
    }
    value
}

fn tags(tags: &[String], errors: &mut Vec<UserError>) -> Vec<String> {
    if tags.len() > MAX_TAGS {
        errors.push(user_error(
            &["tags"],
            UserErrorCode::Length,
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    tags.iter()
        .enumerate()
        .map(|(i, tag)| {
            let tag = tag.trim().to_lowercase();
            let valid = !tag.is_empty()
                && tag.len() <= MAX_TAG
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                errors.push(user_error(
                    &["tags", &i.to_string()],
                    UserErrorCode::Invalid,
                    format!("a tag is 1 to {MAX_TAG} lowercase letters, digits or `-`"),
                ));
            }
            tag
        })
        .collect()
}

fn items(items: &[CollageItemInput], errors: &mut Vec<UserError>) -> Vec<(i32, f64, f64, f64)> {
    if items.is_empty() || items.len() > MAX_ITEMS {
        errors.push(user_error(
            &["items"],
            UserErrorCode::Length,
            format!("a collage has 1 to {MAX_ITEMS} items"),
        ));
    }
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let index = i.to_string();
            let id = match GlobalId::decode_as(&item.product_id, Kind::Product) {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(user_error(
                        &["items", &index, "productId"],
                        UserErrorCode::Invalid,
                        "not a product id",
                    ));
                    None
                }
            };
            for (name, value, low, high) in [
                ("x", item.x, 0.0, 1.0),
                ("y", item.y, 0.0, 1.0),
                ("scale", item.scale, 0.1, 10.0),
            ] {
                if !(low..=high).contains(&value) {
                    errors.push(user_error(
                        &["items", &index, name],
                        UserErrorCode::Invalid,
                        format!("{name} must be between {low} and {high}"),
                    ));
                }
            }
            id.map(|id| (id, item.x, item.y, item.scale))
        })
        .collect()
}

/// Maps a refused write: missing products point at their items; the rest are errors.
fn write_error(error: WriteError, items: &[(i32, f64, f64, f64)]) -> ApiResult<Vec<UserError>> {
    match error {
        WriteError::MissingProducts(missing) => Ok(items
            .iter()
            .enumerate()
            .filter(|(_, item)| missing.contains(&item.0))
            .map(|(i, _)| {
                user_error(
                    &["items", &i.to_string(), "productId"],
                    UserErrorCode::NotFound,
                    "no such product",
                )
            })
            .collect()),
        WriteError::NotFound => Ok(vec![user_error(
            &["id"],
            UserErrorCode::NotFound,
            "no such collage",
        )]),
        WriteError::UnknownViewer => Err(ApiError::Unauthenticated),
        WriteError::Forbidden => Err(ApiError::Forbidden(
            "only its author may change or delete a collage".to_owned(),
        )),
        WriteError::Source(error) => Err(ApiError::from(error)),
    }
}

/// The products of a collage's items.
fn products(items: &[(i32, f64, f64, f64)]) -> impl Iterator<Item = Tag> + '_ {
    items.iter().map(|&(product, ..)| Tag::product(product))
}

/// What a mutation reaches: the viewer and the sources it writes to and reads back from.
pub(crate) struct Writes<'a> {
    pub(crate) viewer: Option<i32>,
    pub(crate) community: &'a Arc<dyn CommunitySource>,
    pub(crate) catalog: &'a Arc<dyn CatalogSource>,
    /// Where the objects a write changed are noted (cached answers holding them go).
    pub(crate) changed: &'a Changed,
}

/// What a like or unlike comes to: the object read back through the source (not the
/// request's loader cache: its count moved), or why there is none.
async fn liked<T>(
    result: Result<i32, WriteError>,
    read_back: impl std::future::Future<
        Output = Result<std::collections::HashMap<i32, T>, crate::protocols::SourceError>,
    >,
    id: i32,
    field: &[&str],
    missing: &str,
) -> ApiResult<Written<T>> {
    match result {
        Ok(_) => Ok((read_back.await?.remove(&id), Vec::new())),
        Err(WriteError::NotFound) => Ok((
            None,
            vec![user_error(field, UserErrorCode::NotFound, missing)],
        )),
        Err(error) => Err(write_error(error, &[])
            .err()
            .unwrap_or(ApiError::Internal("unexpected write outcome".to_owned()))),
    }
}

/// A mutation's outcome: the changed object (none when the input was refused) and the
/// problems with the input.
pub(crate) type Written<T> = (Option<T>, Vec<UserError>);

impl Writes<'_> {
    fn viewer(&self) -> ApiResult<i32> {
        self.viewer.ok_or(ApiError::Unauthenticated)
    }

    /// `likeProduct` and `unlikeProduct`.
    pub(crate) async fn product_like(
        &self,
        product_id: &str,
        like: bool,
    ) -> ApiResult<Written<ProductRecord>> {
        let viewer = self.viewer()?;
        let Ok(id) = GlobalId::decode_as(product_id, Kind::Product) else {
            let error = user_error(&["productId"], UserErrorCode::Invalid, "not a product id");
            return Ok((None, vec![error]));
        };
        let result = if like {
            self.community.like_product(viewer, id).await
        } else {
            self.community.unlike_product(viewer, id).await
        };
        if result.is_ok() {
            self.changed.note([Tag::product(id)]);
        }
        let read_back = async { self.catalog.products_by_ids(&[id]).await };
        liked(result, read_back, id, &["productId"], "no such product").await
    }

    /// `likeCollage` and `unlikeCollage`.
    pub(crate) async fn collage_like(
        &self,
        collage_id: &str,
        like: bool,
    ) -> ApiResult<Written<CollageRecord>> {
        let viewer = self.viewer()?;
        let Ok(id) = GlobalId::decode_as(collage_id, Kind::Collage) else {
            let error = user_error(&["collageId"], UserErrorCode::Invalid, "not a collage id");
            return Ok((None, vec![error]));
        };
        let result = if like {
            self.community.like_collage(viewer, id).await
        } else {
            self.community.unlike_collage(viewer, id).await
        };
        if result.is_ok() {
            self.changed.note([Tag::collage(id)]);
        }
        let read_back = async { self.community.collages_by_ids(&[id]).await };
        liked(result, read_back, id, &["collageId"], "no such collage").await
    }

    /// `createCollage`.
    pub(crate) async fn create_collage(
        &self,
        input: &CreateCollageInput,
    ) -> ApiResult<Written<CollageRecord>> {
        let viewer = self.viewer()?;
        let mut errors = Vec::new();
        let draft = CollageDraft {
            title: text(&input.title, "title", 1, MAX_TITLE, &mut errors),
            description: text(
                &input.description,
                "description",
                0,
                MAX_DESCRIPTION,
                &mut errors,
            ),
            tags: tags(&input.tags, &mut errors),
            items: items(&input.items, &mut errors),
        };
        if !errors.is_empty() {
            return Ok((None, errors));
        }
        match self.community.create_collage(viewer, &draft).await {
            Ok(collage) => {
                // The products' collages changed.
                self.changed.note(products(&draft.items));
                Ok((Some(collage), Vec::new()))
            }
            Err(error) => Ok((None, write_error(error, &draft.items)?)),
        }
    }

    /// `updateCollage`.
    pub(crate) async fn update_collage(
        &self,
        input: &UpdateCollageInput,
    ) -> ApiResult<Written<CollageRecord>> {
        let viewer = self.viewer()?;
        let id = GlobalId::decode_as(&input.id, Kind::Collage)?;
        let mut errors = Vec::new();
        let patch = CollagePatch {
            title: input
                .title
                .as_deref()
                .map(|t| text(t, "title", 1, MAX_TITLE, &mut errors)),
            description: input
                .description
                .as_deref()
                .map(|d| text(d, "description", 0, MAX_DESCRIPTION, &mut errors)),
            tags: input.tags.as_deref().map(|t| tags(t, &mut errors)),
            items: input.items.as_deref().map(|i| items(i, &mut errors)),
        };
        if !errors.is_empty() {
            return Ok((None, errors));
        }
        match self.community.update_collage(viewer, id, &patch).await {
            Ok(collage) => {
                let items = patch.items.as_deref().unwrap_or_default();
                self.changed
                    .note(std::iter::once(Tag::collage(id)).chain(products(items)));
                Ok((Some(collage), Vec::new()))
            }
            Err(error) => {
                let items = patch.items.unwrap_or_default();
                Ok((None, write_error(error, &items)?))
            }
        }
    }

    /// `deleteCollage`: the deleted collage's global id.
    pub(crate) async fn delete_collage(&self, id: &str) -> ApiResult<Written<String>> {
        let viewer = self.viewer()?;
        let database_id = GlobalId::decode_as(id, Kind::Collage)?;
        match self.community.delete_collage(viewer, database_id).await {
            Ok(()) => {
                self.changed.note([Tag::collage(database_id)]);
                Ok((Some(id.to_owned()), Vec::new()))
            }
            Err(error) => Ok((None, write_error(error, &[])?)),
        }
    }
}
