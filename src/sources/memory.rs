//! In-memory implementations of the protocols, for fast unit tests of the core: same
//! contracts as the real sources, data held in vectors, every call counted by method so
//! tests can prove batching without a database.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::protocols::{
    BrandCursor, BrandRecord, CatalogSource, CategoryRecord, FirstPage, Page, PageRequest,
    ProductColumns, ProductRecord, ShopRecord, SourceError,
};

/// Calls counted by method name, shared by the in-memory sources.
#[derive(Default)]
pub struct CallCounter(Mutex<HashMap<&'static str, usize>>);

impl CallCounter {
    fn count(&self, method: &'static str) {
        *self
            .0
            .lock()
            .expect("call counter poisoned")
            .entry(method)
            .or_default() += 1;
    }

    /// How many times `method` was called.
    pub fn get(&self, method: &str) -> usize {
        let calls = self.0.lock().expect("call counter poisoned");
        calls.get(method).copied().unwrap_or(0)
    }
}

/// A catalog held in memory. `fail` makes one method fail, to test error paths.
#[derive(Default)]
pub struct MemoryCatalog {
    /// Every brand of the catalog.
    pub brands: Vec<BrandRecord>,
    /// Every shop of the catalog.
    pub shops: Vec<ShopRecord>,
    /// Every category; `parent_id` makes the tree.
    pub categories: Vec<CategoryRecord>,
    /// Every product; pages list them newest (highest id) first.
    pub products: Vec<ProductRecord>,
    failures: Mutex<HashMap<&'static str, SourceError>>,
    /// Methods that panic, to test that a bug in a source cannot take a request down.
    panics: Mutex<Vec<&'static str>>,
    calls: CallCounter,
}

impl MemoryCatalog {
    /// A catalog of these records.
    pub fn new(
        brands: Vec<BrandRecord>,
        shops: Vec<ShopRecord>,
        categories: Vec<CategoryRecord>,
        products: Vec<ProductRecord>,
    ) -> Self {
        Self {
            brands,
            shops,
            categories,
            products,
            ..Self::default()
        }
    }

    /// How many times `method` was called.
    pub fn calls(&self, method: &str) -> usize {
        self.calls.get(method)
    }

    /// Makes every later call of `method` fail with `error`.
    pub fn fail(&self, method: &'static str, error: SourceError) {
        self.failures
            .lock()
            .expect("failures poisoned")
            .insert(method, error);
    }

    /// Makes every later call of `method` panic.
    pub fn panic_on(&self, method: &'static str) {
        self.panics.lock().expect("panics poisoned").push(method);
    }

    /// Counts the call and fails it when told to.
    fn enter(&self, method: &'static str) -> Result<(), SourceError> {
        self.calls.count(method);
        if self
            .panics
            .lock()
            .expect("panics poisoned")
            .contains(&method)
        {
            panic!("{method} panics, as the test asked");
        }
        match self.failures.lock().expect("failures poisoned").get(method) {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    fn subtree(&self, root: i32) -> Vec<i32> {
        let mut ids = vec![root];
        let mut i = 0;
        while i < ids.len() {
            let parent = ids[i];
            ids.extend(
                self.categories
                    .iter()
                    .filter(|c| c.parent_id == Some(parent))
                    .map(|c| c.id),
            );
            i += 1;
        }
        ids
    }

    fn products_where(
        &self,
        keep: impl Fn(&ProductRecord) -> bool,
        page: PageRequest<i32>,
    ) -> Page<ProductRecord> {
        let mut items: Vec<_> = self
            .products
            .iter()
            .filter(|p| keep(p) && page.after.is_none_or(|after| p.id < after))
            .cloned()
            .collect();
        items.sort_by_key(|p| std::cmp::Reverse(p.id));
        take_page(items, page.first)
    }

    fn products_first_page(
        &self,
        key: FirstPage,
        keep: impl Fn(&ProductRecord) -> bool,
    ) -> Page<ProductRecord> {
        let request = PageRequest {
            first: key.first,
            after: None,
        };
        let page = self.products_where(&keep, request);
        counted(key, page, || self.product_count(keep))
    }

    fn product_count(&self, keep: impl Fn(&ProductRecord) -> bool) -> i64 {
        self.products.iter().filter(|p| keep(p)).count() as i64
    }
}

fn take_page<T>(mut items: Vec<T>, first: u32) -> Page<T> {
    let has_next_page = items.len() > first as usize;
    items.truncate(first as usize);
    Page {
        items,
        has_next_page,
        total: None,
    }
}

fn index<K: Hash + Eq + Clone, T: Clone>(
    rows: &[T],
    keys: &[K],
    key: impl Fn(&T) -> K,
) -> HashMap<K, T> {
    rows.iter()
        .filter(|row| keys.contains(&key(row)))
        .map(|row| (key(row), row.clone()))
        .collect()
}

/// `records`, shared as the protocols hand out records a source may keep.
fn shared<K: Hash + Eq, T>(records: HashMap<K, T>) -> HashMap<K, Arc<T>> {
    (records.into_iter())
        .map(|(key, record)| (key, Arc::new(record)))
        .collect()
}

/// The rows whose `name` matches one of `names` without regard to case (as MySQL's
/// collation compares them), keyed by the names asked for.
fn index_names<T: Clone>(
    rows: &[T],
    names: &[String],
    name: impl Fn(&T) -> &str,
) -> HashMap<String, T> {
    names
        .iter()
        .filter_map(|n| {
            let row = rows
                .iter()
                .find(|row| name(row).to_lowercase() == n.to_lowercase())?;
            Some((n.clone(), row.clone()))
        })
        .collect()
}

#[async_trait::async_trait]
impl CatalogSource for MemoryCatalog {
    async fn products_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, ProductRecord>, SourceError> {
        self.enter("products_by_ids")?;
        Ok(index(&self.products, ids, |p| p.id))
    }

    async fn brands_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Arc<BrandRecord>>, SourceError> {
        self.enter("brands_by_ids")?;
        Ok(shared(index(&self.brands, ids, |b| b.id)))
    }

    async fn brands_by_slugs(
        &self,
        slugs: &[String],
    ) -> Result<HashMap<String, BrandRecord>, SourceError> {
        self.enter("brands_by_slugs")?;
        Ok(index_names(&self.brands, slugs, |b| &b.slug))
    }

    async fn shops_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Arc<ShopRecord>>, SourceError> {
        self.enter("shops_by_ids")?;
        Ok(shared(index(&self.shops, ids, |s| s.id)))
    }

    async fn shops_by_slugs(
        &self,
        slugs: &[String],
    ) -> Result<HashMap<String, ShopRecord>, SourceError> {
        self.enter("shops_by_slugs")?;
        Ok(index_names(&self.shops, slugs, |s| &s.slug))
    }

    async fn categories_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Arc<CategoryRecord>>, SourceError> {
        self.enter("categories_by_ids")?;
        Ok(shared(index(&self.categories, ids, |c| c.id)))
    }

    async fn categories_by_slugs(
        &self,
        slugs: &[String],
    ) -> Result<HashMap<String, CategoryRecord>, SourceError> {
        self.enter("categories_by_slugs")?;
        Ok(index_names(&self.categories, slugs, |c| &c.slug))
    }

    async fn category_children(
        &self,
        parent_ids: &[i32],
    ) -> Result<HashMap<i32, Vec<CategoryRecord>>, SourceError> {
        self.enter("category_children")?;
        let mut children: HashMap<i32, Vec<CategoryRecord>> = HashMap::new();
        for category in &self.categories {
            if let Some(parent) = category.parent_id.filter(|p| parent_ids.contains(p)) {
                children.entry(parent).or_default().push(category.clone());
            }
        }
        children
            .values_mut()
            .for_each(|list| list.sort_by_key(|c| (c.position, c.id)));
        Ok(children)
    }

    async fn category_paths(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, Vec<CategoryRecord>>, SourceError> {
        self.enter("category_paths")?;
        let by_id = index(
            &self.categories,
            &self.categories.iter().map(|c| c.id).collect::<Vec<_>>(),
            |c| c.id,
        );
        let mut paths = HashMap::new();
        for &id in ids {
            let mut path = Vec::new();
            let mut next = by_id.get(&id);
            while let Some(category) = next {
                path.push(category.clone());
                next = category.parent_id.and_then(|p| by_id.get(&p));
            }
            if !path.is_empty() {
                path.reverse();
                paths.insert(id, path);
            }
        }
        Ok(paths)
    }

    async fn root_categories(&self) -> Result<Vec<CategoryRecord>, SourceError> {
        self.enter("root_categories")?;
        let mut roots: Vec<_> = self
            .categories
            .iter()
            .filter(|c| c.parent_id.is_none())
            .cloned()
            .collect();
        roots.sort_by_key(|c| (c.position, c.id));
        Ok(roots)
    }

    async fn brands_page(
        &self,
        page: PageRequest<BrandCursor>,
    ) -> Result<Page<BrandRecord>, SourceError> {
        self.enter("brands_page")?;
        let mut brands = self.brands.clone();
        brands.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        brands.retain(|b| {
            page.after
                .as_ref()
                .is_none_or(|after| (&b.name, b.id) > (&after.name, after.id))
        });
        Ok(take_page(brands, page.first))
    }

    async fn brands_count(&self) -> Result<i64, SourceError> {
        self.enter("brands_count")?;
        Ok(self.brands.len() as i64)
    }

    async fn category_products_page(
        &self,
        category_id: i32,
        page: PageRequest<i32>,
        _columns: ProductColumns,
    ) -> Result<Page<ProductRecord>, SourceError> {
        self.enter("category_products_page")?;
        let subtree = self.subtree(category_id);
        Ok(self.products_where(|p| subtree.contains(&p.category_id), page))
    }

    async fn category_products_first_pages(
        &self,
        keys: &[FirstPage],
        _columns: ProductColumns,
    ) -> Result<HashMap<FirstPage, Page<ProductRecord>>, SourceError> {
        self.enter("category_products_first_pages")?;
        Ok(keys
            .iter()
            .map(|&key| {
                let subtree = self.subtree(key.owner);
                let of = |p: &ProductRecord| subtree.contains(&p.category_id);
                (key, self.products_first_page(key, of))
            })
            .collect())
    }

    async fn category_products_counts(
        &self,
        category_ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError> {
        self.enter("category_products_counts")?;
        Ok(category_ids
            .iter()
            .map(|&id| {
                let subtree = self.subtree(id);
                (id, self.product_count(|p| subtree.contains(&p.category_id)))
            })
            .collect())
    }

    async fn brand_products_first_pages(
        &self,
        keys: &[FirstPage],
        _columns: ProductColumns,
    ) -> Result<HashMap<FirstPage, Page<ProductRecord>>, SourceError> {
        self.enter("brand_products_first_pages")?;
        Ok(keys
            .iter()
            .map(|&key| {
                let of = |p: &ProductRecord| p.brand_id == key.owner;
                (key, self.products_first_page(key, of))
            })
            .collect())
    }

    async fn brand_products_counts(
        &self,
        brand_ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError> {
        self.enter("brand_products_counts")?;
        Ok(brand_ids
            .iter()
            .map(|&id| (id, self.product_count(|p| p.brand_id == id)))
            .collect())
    }

    async fn brand_products_page(
        &self,
        brand_id: i32,
        page: PageRequest<i32>,
        _columns: ProductColumns,
    ) -> Result<Page<ProductRecord>, SourceError> {
        self.enter("brand_products_page")?;
        Ok(self.products_where(|p| p.brand_id == brand_id, page))
    }
}

/// Product search over an in-memory catalog: substring matching on names, the filters, id
/// order. Enough to test how the core pages, hydrates and batches.
pub struct MemorySearch {
    /// The catalog whose products it searches.
    pub catalog: std::sync::Arc<MemoryCatalog>,
    calls: CallCounter,
}

impl MemorySearch {
    /// Search over `catalog`, with no calls counted yet.
    pub fn new(catalog: std::sync::Arc<MemoryCatalog>) -> Self {
        Self {
            catalog,
            calls: CallCounter::default(),
        }
    }

    /// How many times `method` was called.
    pub fn calls(&self, method: &str) -> usize {
        self.calls.get(method)
    }

    fn enter(&self, method: &'static str) {
        self.calls.count(method);
    }
}

#[async_trait::async_trait]
impl crate::protocols::search::SearchSource for MemorySearch {
    async fn search(
        &self,
        query: &crate::protocols::search::SearchQuery,
    ) -> Result<crate::protocols::search::SearchPage, SourceError> {
        use crate::protocols::search::{Facets, SearchHit, SearchPage};
        self.enter("search");
        let text = query.text.to_lowercase();
        let filter = &query.filter;
        let categories: Vec<i32> = filter
            .category_ids
            .iter()
            .flat_map(|&c| self.catalog.subtree(c))
            .collect();
        let after = query
            .after
            .as_ref()
            .and_then(|v| v.get(1))
            .and_then(|v| v.as_i64());
        let matching: Vec<&ProductRecord> = self
            .catalog
            .products
            .iter()
            .filter(|p| p.name.to_lowercase().contains(&text))
            .filter(|p| filter.brand_ids.is_empty() || filter.brand_ids.contains(&p.brand_id))
            .filter(|p| filter.category_ids.is_empty() || categories.contains(&p.category_id))
            .filter(|p| filter.shop_ids.is_empty() || filter.shop_ids.contains(&p.shop_id))
            .filter(|p| filter.colors.is_empty() || filter.colors.contains(&p.color))
            .collect();
        let total = matching.len() as i64;
        let page = take_page(
            matching
                .into_iter()
                .filter(|p| after.is_none_or(|a| i64::from(p.id) > a))
                .map(|p| SearchHit {
                    product_id: p.id,
                    sort: vec![serde_json::json!(0), serde_json::json!(p.id)],
                })
                .collect(),
            query.first,
        );
        Ok(SearchPage {
            hits: page.items,
            has_next_page: page.has_next_page,
            total,
            facets: query.facets.any().then(Facets::default),
        })
    }

    async fn similar(
        &self,
        keys: &[(i32, u32)],
    ) -> Result<HashMap<(i32, u32), Vec<i32>>, SourceError> {
        self.enter("similar");
        let products = &self.catalog.products;
        Ok(keys
            .iter()
            .filter_map(|&(id, first)| {
                let product = products.iter().find(|p| p.id == id)?;
                let like: Vec<i32> = products
                    .iter()
                    .filter(|p| p.id != id && p.category_id == product.category_id)
                    .map(|p| p.id)
                    .take(first as usize)
                    .collect();
                Some(((id, first), like))
            })
            .collect())
    }

    async fn suggest(
        &self,
        prefix: &str,
        size: u32,
    ) -> Result<Vec<crate::protocols::search::Suggestion>, SourceError> {
        use crate::protocols::search::{Suggestion, SuggestionKind};
        self.enter("suggest");
        let prefix = prefix.to_lowercase();
        Ok(self
            .catalog
            .products
            .iter()
            .filter(|p| p.name.to_lowercase().starts_with(&prefix))
            .take(size as usize)
            .map(|p| Suggestion {
                text: p.name.clone(),
                kind: SuggestionKind::Product,
                id: p.id,
            })
            .collect())
    }
}

/// Live offers made up from product ids: one offer per product whose id is not a multiple
/// of 10. Counts calls and the ids asked; `fail` makes every call fail.
#[derive(Default)]
pub struct MemoryOffers {
    calls: Mutex<Vec<Vec<i32>>>,
    failure: Mutex<Option<SourceError>>,
}

impl MemoryOffers {
    /// The id batches of every call so far.
    pub fn calls(&self) -> Vec<Vec<i32>> {
        self.calls.lock().expect("calls poisoned").clone()
    }

    /// Makes every later call fail with `error`; `None` makes them succeed again.
    pub fn fail(&self, error: Option<SourceError>) {
        *self.failure.lock().expect("failure poisoned") = error;
    }
}

#[async_trait::async_trait]
impl crate::protocols::offers::OfferSource for MemoryOffers {
    async fn offers(
        &self,
        product_ids: &[i32],
        _context: &crate::protocols::offers::CallContext,
    ) -> Result<HashMap<i32, Vec<crate::protocols::offers::Offer>>, SourceError> {
        use crate::protocols::offers::{Availability, Offer};
        self.calls
            .lock()
            .expect("calls poisoned")
            .push(product_ids.to_vec());
        if let Some(error) = self.failure.lock().expect("failure poisoned").clone() {
            return Err(error);
        }
        Ok(product_ids
            .iter()
            .map(|&id| {
                let offers = (id % 10 != 0)
                    .then(|| Offer {
                        product_id: id,
                        shop: "memory-shop".to_owned(),
                        price_minor: i64::from(id) * 100,
                        currency: "EUR".to_owned(),
                        availability: Availability::InStock,
                        sizes: vec!["M".to_owned()],
                        url: format!("https://shop.example/{id}"),
                        updated_at: chrono::DateTime::UNIX_EPOCH,
                    })
                    .into_iter()
                    .collect();
                (id, offers)
            })
            .collect())
    }
}

/// The community held in memory: users, collages with items, likes. Writes take one lock,
/// as a transaction would.
#[derive(Default)]
pub struct MemoryCommunity {
    /// Every user.
    pub users: Vec<crate::protocols::community::UserRecord>,
    /// Collages, items and likes: what writes change.
    pub state: Mutex<CommunityState>,
    calls: CallCounter,
}

/// The mutable part of the in-memory community.
#[derive(Default)]
pub struct CommunityState {
    /// Every collage.
    pub collages: Vec<crate::protocols::community::CollageRecord>,
    /// The items of every collage.
    pub items: Vec<crate::protocols::community::CollageItemRecord>,
    /// Product likes, as `(user id, product id)`.
    pub product_likes: std::collections::HashSet<(i32, i32)>,
    /// Collage likes, as `(user id, collage id)`.
    pub collage_likes: std::collections::HashSet<(i32, i32)>,
    /// Products that exist, for the checks of collage writes.
    pub product_ids: Vec<i32>,
}

impl MemoryCommunity {
    /// A community of these users and nothing else yet.
    pub fn with_users(users: Vec<crate::protocols::community::UserRecord>) -> Self {
        Self {
            users,
            ..Self::default()
        }
    }

    /// How many times `method` was called.
    pub fn calls(&self, method: &str) -> usize {
        self.calls.get(method)
    }

    fn enter(&self, method: &'static str) {
        self.calls.count(method);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CommunityState> {
        self.state.lock().expect("community state poisoned")
    }

    fn collages_where(
        &self,
        keep: impl Fn(&crate::protocols::community::CollageRecord, &CommunityState) -> bool,
        first: u32,
        after: Option<i32>,
    ) -> Page<crate::protocols::community::CollageRecord> {
        let state = self.state();
        let mut collages: Vec<_> = state
            .collages
            .iter()
            .filter(|c| keep(c, &state) && after.is_none_or(|a| c.id < a))
            .cloned()
            .collect();
        collages.sort_by_key(|c| std::cmp::Reverse(c.id));
        take_page(collages, first)
    }

    fn collage_count(
        &self,
        keep: impl Fn(&crate::protocols::community::CollageRecord, &CommunityState) -> bool,
    ) -> i64 {
        let state = self.state();
        state.collages.iter().filter(|c| keep(c, &state)).count() as i64
    }
}

/// Whether collage `c` places product `product`.
fn uses_product(
    state: &CommunityState,
    c: &crate::protocols::community::CollageRecord,
    product: i32,
) -> bool {
    (state.items.iter()).any(|i| i.collage_id == c.id && i.product_id == product)
}

/// How many products `user` likes.
fn likes_of(state: &CommunityState, user: i32) -> i64 {
    state.product_likes.iter().filter(|l| l.0 == user).count() as i64
}

/// A first page with the whole list's count where `key` asks for it.
fn counted<T>(key: FirstPage, page: Page<T>, count: impl FnOnce() -> i64) -> Page<T> {
    Page {
        total: key.counted.then(count),
        ..page
    }
}

#[async_trait::async_trait]
impl crate::protocols::community::CommunitySource for MemoryCommunity {
    async fn users_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, crate::protocols::community::UserRecord>, SourceError> {
        self.enter("users_by_ids");
        Ok(index(&self.users, ids, |u| u.id))
    }

    async fn users_by_usernames(
        &self,
        usernames: &[String],
    ) -> Result<HashMap<String, crate::protocols::community::UserRecord>, SourceError> {
        self.enter("users_by_usernames");
        Ok(index_names(&self.users, usernames, |u| &u.username))
    }

    async fn collages_by_ids(
        &self,
        ids: &[i32],
    ) -> Result<HashMap<i32, crate::protocols::community::CollageRecord>, SourceError> {
        self.enter("collages_by_ids");
        Ok(index(&self.state().collages, ids, |c| c.id))
    }

    async fn collage_items(
        &self,
        keys: &[(i32, u32)],
    ) -> Result<HashMap<(i32, u32), Vec<crate::protocols::community::CollageItemRecord>>, SourceError>
    {
        self.enter("collage_items");
        let state = self.state();
        Ok(keys
            .iter()
            .map(|&(id, first)| {
                let mut items: Vec<_> = state
                    .items
                    .iter()
                    .filter(|i| i.collage_id == id)
                    .cloned()
                    .collect();
                items.sort_by_key(|i| i.position);
                items.truncate(first as usize);
                ((id, first), items)
            })
            .collect())
    }

    async fn collage_tags(&self, _ids: &[i32]) -> Result<HashMap<i32, Vec<String>>, SourceError> {
        self.enter("collage_tags");
        Ok(HashMap::new())
    }

    async fn collages_page(
        &self,
        order: crate::protocols::community::CollageOrder,
        _tag: Option<&str>,
        page: PageRequest<crate::protocols::community::CollageCursor>,
    ) -> Result<Page<crate::protocols::community::CollageRecord>, SourceError> {
        use crate::protocols::community::CollageOrder;
        self.enter("collages_page");
        let mut collages = self.state().collages.clone();
        match order {
            CollageOrder::Newest => collages.sort_by_key(|c| std::cmp::Reverse(c.id)),
            CollageOrder::Popular => {
                collages.sort_by_key(|c| std::cmp::Reverse((c.like_count, c.id)))
            }
        }
        if let Some(after) = page.after {
            let at = collages
                .iter()
                .position(|c| c.id == after.id)
                .map_or(0, |p| p + 1);
            collages.drain(..at);
        }
        Ok(take_page(collages, page.first))
    }

    async fn collages_count(&self, _tag: Option<&str>) -> Result<i64, SourceError> {
        self.enter("collages_count");
        Ok(self.state().collages.len() as i64)
    }

    async fn user_collages(
        &self,
        keys: &[FirstPage],
    ) -> Result<HashMap<FirstPage, Page<crate::protocols::community::CollageRecord>>, SourceError>
    {
        self.enter("user_collages");
        Ok(keys
            .iter()
            .map(|&key| {
                let page = self.collages_where(|c, _| c.user_id == key.owner, key.first, None);
                (
                    key,
                    counted(key, page, || {
                        self.collage_count(|c, _| c.user_id == key.owner)
                    }),
                )
            })
            .collect())
    }

    async fn product_collages(
        &self,
        keys: &[FirstPage],
    ) -> Result<HashMap<FirstPage, Page<crate::protocols::community::CollageRecord>>, SourceError>
    {
        self.enter("product_collages");
        Ok(keys
            .iter()
            .map(|&key| {
                let uses = |c: &crate::protocols::community::CollageRecord, s: &CommunityState| {
                    uses_product(s, c, key.owner)
                };
                let page = self.collages_where(uses, key.first, None);
                (key, counted(key, page, || self.collage_count(uses)))
            })
            .collect())
    }

    async fn owner_collages_page(
        &self,
        owner: crate::protocols::community::CollageOwner,
        page: PageRequest<i32>,
    ) -> Result<Page<crate::protocols::community::CollageRecord>, SourceError> {
        use crate::protocols::community::CollageOwner;
        self.enter("owner_collages_page");
        Ok(match owner {
            CollageOwner::User(user) => {
                self.collages_where(|c, _| c.user_id == user, page.first, page.after)
            }
            CollageOwner::Product(product) => self.collages_where(
                |c, s| {
                    s.items
                        .iter()
                        .any(|i| i.collage_id == c.id && i.product_id == product)
                },
                page.first,
                page.after,
            ),
        })
    }

    async fn owner_collages_counts(
        &self,
        owner: crate::protocols::community::CollageOwnerKind,
        ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError> {
        use crate::protocols::community::CollageOwnerKind;
        self.enter("owner_collages_counts");
        Ok(ids
            .iter()
            .map(|&id| {
                let count = self.collage_count(|c, state| match owner {
                    CollageOwnerKind::User => c.user_id == id,
                    CollageOwnerKind::Product => uses_product(state, c, id),
                });
                (id, count)
            })
            .collect())
    }

    async fn liked_products_page(
        &self,
        _user_id: i32,
        _page: PageRequest<crate::protocols::community::LikeCursor>,
        _columns: ProductColumns,
    ) -> Result<Page<crate::protocols::community::LikedProduct>, SourceError> {
        self.enter("liked_products_page");
        Ok(Page::default())
    }

    async fn liked_products_first_pages(
        &self,
        keys: &[FirstPage],
        _columns: ProductColumns,
    ) -> Result<HashMap<FirstPage, Page<crate::protocols::community::LikedProduct>>, SourceError>
    {
        self.enter("liked_products_first_pages");
        let state = self.state();
        Ok(keys
            .iter()
            .map(|&key| {
                let page = counted(key, Page::default(), || likes_of(&state, key.owner));
                (key, page)
            })
            .collect())
    }

    async fn liked_products_counts(
        &self,
        user_ids: &[i32],
    ) -> Result<HashMap<i32, i64>, SourceError> {
        self.enter("liked_products_counts");
        let state = self.state();
        Ok(user_ids.iter().map(|&u| (u, likes_of(&state, u))).collect())
    }

    async fn viewer_liked_products(
        &self,
        viewer: i32,
        product_ids: &[i32],
    ) -> Result<std::collections::HashSet<i32>, SourceError> {
        self.enter("viewer_liked_products");
        let state = self.state();
        Ok(product_ids
            .iter()
            .copied()
            .filter(|p| state.product_likes.contains(&(viewer, *p)))
            .collect())
    }

    async fn viewer_liked_collages(
        &self,
        viewer: i32,
        collage_ids: &[i32],
    ) -> Result<std::collections::HashSet<i32>, SourceError> {
        self.enter("viewer_liked_collages");
        let state = self.state();
        Ok(collage_ids
            .iter()
            .copied()
            .filter(|c| state.collage_likes.contains(&(viewer, *c)))
            .collect())
    }

    async fn like_product(
        &self,
        viewer: i32,
        product_id: i32,
    ) -> Result<i32, crate::protocols::community::WriteError> {
        let mut state = self.state();
        if !state.product_ids.contains(&product_id) {
            return Err(crate::protocols::community::WriteError::NotFound);
        }
        state.product_likes.insert((viewer, product_id));
        Ok(state
            .product_likes
            .iter()
            .filter(|l| l.1 == product_id)
            .count() as i32)
    }

    async fn unlike_product(
        &self,
        viewer: i32,
        product_id: i32,
    ) -> Result<i32, crate::protocols::community::WriteError> {
        let mut state = self.state();
        state.product_likes.remove(&(viewer, product_id));
        Ok(state
            .product_likes
            .iter()
            .filter(|l| l.1 == product_id)
            .count() as i32)
    }

    async fn like_collage(
        &self,
        viewer: i32,
        collage_id: i32,
    ) -> Result<i32, crate::protocols::community::WriteError> {
        let mut state = self.state();
        let Some(index) = state.collages.iter().position(|c| c.id == collage_id) else {
            return Err(crate::protocols::community::WriteError::NotFound);
        };
        if state.collage_likes.insert((viewer, collage_id)) {
            state.collages[index].like_count += 1;
        }
        Ok(state.collages[index].like_count)
    }

    async fn unlike_collage(
        &self,
        viewer: i32,
        collage_id: i32,
    ) -> Result<i32, crate::protocols::community::WriteError> {
        let mut state = self.state();
        let Some(index) = state.collages.iter().position(|c| c.id == collage_id) else {
            return Err(crate::protocols::community::WriteError::NotFound);
        };
        if state.collage_likes.remove(&(viewer, collage_id)) {
            state.collages[index].like_count -= 1;
        }
        Ok(state.collages[index].like_count)
    }

    async fn create_collage(
        &self,
        viewer: i32,
        draft: &crate::protocols::community::CollageDraft,
    ) -> Result<crate::protocols::community::CollageRecord, crate::protocols::community::WriteError>
    {
        use crate::protocols::community::{CollageItemRecord, CollageRecord, WriteError};
        let mut state = self.state();
        let missing: Vec<i32> = draft
            .items
            .iter()
            .map(|i| i.0)
            .filter(|id| !state.product_ids.contains(id))
            .collect();
        if !missing.is_empty() {
            return Err(WriteError::MissingProducts(missing));
        }
        let id = state.collages.iter().map(|c| c.id).max().unwrap_or(0) + 1;
        let collage = CollageRecord {
            id,
            user_id: viewer,
            title: draft.title.clone(),
            description: draft.description.clone(),
            like_count: 0,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        state.collages.push(collage.clone());
        for (position, (product_id, x, y, scale)) in draft.items.iter().enumerate() {
            state.items.push(CollageItemRecord {
                collage_id: id,
                position: position as i32,
                product_id: *product_id,
                x: *x,
                y: *y,
                scale: *scale,
            });
        }
        Ok(collage)
    }

    async fn update_collage(
        &self,
        viewer: i32,
        id: i32,
        patch: &crate::protocols::community::CollagePatch,
    ) -> Result<crate::protocols::community::CollageRecord, crate::protocols::community::WriteError>
    {
        use crate::protocols::community::WriteError;
        let mut state = self.state();
        let collage = state
            .collages
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or(WriteError::NotFound)?;
        if collage.user_id != viewer {
            return Err(WriteError::Forbidden);
        }
        if let Some(title) = &patch.title {
            collage.title = title.clone();
        }
        Ok(collage.clone())
    }

    async fn delete_collage(
        &self,
        viewer: i32,
        id: i32,
    ) -> Result<(), crate::protocols::community::WriteError> {
        use crate::protocols::community::WriteError;
        let mut state = self.state();
        let collage = state
            .collages
            .iter()
            .find(|c| c.id == id)
            .ok_or(WriteError::NotFound)?;
        if collage.user_id != viewer {
            return Err(WriteError::Forbidden);
        }
        state.collages.retain(|c| c.id != id);
        state.items.retain(|i| i.collage_id != id);
        Ok(())
    }
}
