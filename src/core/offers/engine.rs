//! `Product.offers` in the planned engine: the offers of every product of a level in one
//! loader batch (partner calls of at most its batch size), answered from the cache where
//! fresh, stale where the partner fails and a recent answer is kept.

use std::sync::Arc;

use super::{OffersAnswer, RequestOffers};
use crate::core::catalog::MoneyObj;
use crate::core::engine::{Children, Registry};
use crate::core::errors::ApiError;
use crate::protocols::ProductRecord;
use crate::protocols::offers::{Availability, Offer};

/// A product's offers as the engine holds them: a successful answer, shared.
pub(super) struct OffersObj(Arc<OffersAnswer>);

impl OffersObj {
    fn offers(&self) -> &[Offer] {
        match &*self.0 {
            Ok(answer) => &answer.offers,
            Err(_) => &[],
        }
    }
}

/// Registers `Product.offers` and the offers' types.
pub(super) fn register(registry: &mut Registry) {
    registry
        .object::<Arc<ProductRecord>>("Product")
        .resolve("offers", "ProductOffers", |ctx, products, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = products.iter().map(|p| p.id).collect();
                let answers = ctx
                    .data::<RequestOffers>()?
                    .loader
                    .load_shared(&ids)
                    .await?;
                let mut children = Children::with_capacity(products.len());
                for (answer, id) in answers.into_iter().zip(ids) {
                    match answer {
                        Some(answer) => match &*answer {
                            Ok(_) => children.push(OffersObj(answer.clone())),
                            Err(error) => children.push_error(error.clone()),
                        },
                        // The loader answers every id it is given; a gap is a broken invariant.
                        None => children.push_error(ApiError::Internal(format!(
                            "no offers answer for product {id}"
                        ))),
                    }
                }
                Ok(children)
            })
        })
        // A product page asking for its own and its similar products' offers makes one
        // partner call for both.
        .gathered("offers");
    registry
        .object::<OffersObj>("ProductOffers")
        .child_list("offers", "Offer", |o: &OffersObj| o.offers().to_vec())
        .leaf("stale", |o: &OffersObj, out| {
            out.bool(o.0.as_ref().as_ref().is_ok_and(|a| a.stale))
        })
        .leaf("fetchedAt", |o: &OffersObj, out| match &*o.0 {
            Ok(answer) => out.datetime(&answer.fetched_at),
            Err(_) => out.null(),
        });
    registry
        .object::<Offer>("Offer")
        .leaf("shop", |o: &Offer, out| out.str(&o.shop))
        .child("price", "Money", |o: &Offer| {
            MoneyObj::new(o.price_minor, &o.currency)
        })
        .leaf("availability", |o: &Offer, out| {
            out.str(match o.availability {
                Availability::InStock => "IN_STOCK",
                Availability::LowStock => "LOW_STOCK",
                Availability::OutOfStock => "OUT_OF_STOCK",
            })
        })
        .leaf("sizes", |o: &Offer, out| {
            out.strs(o.sizes.iter().map(String::as_str))
        })
        .leaf("url", |o: &Offer, out| out.str(&o.url))
        .leaf("updatedAt", |o: &Offer, out| out.datetime(&o.updated_at));
}
