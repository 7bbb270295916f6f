// A typed client for two of the web app's pages. Every type comes from src/generated/, which
// `npm run generate` derives from schema.graphql and operations/*.graphql: a schema change
// that breaks an operation fails generation, and one that changes a field this code reads
// fails `tsc`.
import {
  ProductPageDocument,
  SearchPageDocument,
  type Availability,
  type ProductFilter,
  type ProductPageQuery,
  type ProductSort,
  type SearchPageQuery,
  type TypedDocumentString,
} from "./generated/graphql.js";

/** Sent on every request; the gateway logs them in its access log and metrics. */
const CLIENT_NAME = "ogrom-typescript-example";
const CLIENT_VERSION = "0.1.0";

/** The `extensions.code` values a client acts on (the gateway sends others too). */
export type ErrorCode =
  | "NOT_FOUND"
  | "BAD_USER_INPUT"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "UPSTREAM_UNAVAILABLE"
  | "UPSTREAM_TIMEOUT"
  | "GRAPHQL_PARSE_FAILED"
  | "GRAPHQL_VALIDATION_FAILED"
  | "COST_LIMIT_EXCEEDED"
  | "BUDGET_EXHAUSTED"
  | "OVERLOADED"
  | "TIMEOUT"
  | "INTERNAL";

/** One entry of a response's `errors`. Every error from the gateway carries a code. */
export interface GatewayErrorEntry {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: {
    code?: ErrorCode | (string & {});
    requestId?: string;
    /** Seconds until the budget refills, with BUDGET_EXHAUSTED. */
    retryAfter?: number;
  };
}

/** A request that returned no data: the whole page cannot be shown. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly errors: readonly GatewayErrorEntry[],
  ) {
    const first = errors[0];
    super(first ? `${first.extensions?.code ?? "UNKNOWN"}: ${first.message}` : `HTTP ${status}`);
    this.name = "GatewayError";
  }

  /** The codes of all errors, for branching (retry, sign in, show a 404). */
  get codes(): string[] {
    return this.errors.flatMap((e) => (e.extensions?.code ? [e.extensions.code] : []));
  }

  /** Worth retrying later: the gateway or a backend is busy, or the budget ran out. */
  get retryable(): boolean {
    const transient = ["OVERLOADED", "BUDGET_EXHAUSTED", "UPSTREAM_TIMEOUT", "TIMEOUT"];
    return this.codes.some((c) => transient.includes(c)) || this.status === 503;
  }

  /** Seconds to wait before retrying, when the gateway said so. */
  get retryAfter(): number | undefined {
    return this.errors.find((e) => e.extensions?.retryAfter !== undefined)?.extensions?.retryAfter;
  }
}

/** The data of a request plus the errors of the parts that failed (a partial result). */
export interface Result<TData> {
  data: TData;
  errors: readonly GatewayErrorEntry[];
}

export interface Gateway {
  /** The gateway's GraphQL endpoint, e.g. "http://127.0.0.1:8080/graphql". */
  url: string;
  /** A bearer token for the signed-in user, if any. */
  token?: string;
  signal?: AbortSignal;
}

/**
 * POSTs one operation and returns its typed data. Throws GatewayError when the response has
 * no data (a request or validation error, a refusal); returns the data with the errors when
 * only part of it failed (an unreachable partner's offers).
 */
export async function execute<TData, TVariables>(
  gateway: Gateway,
  operationName: string,
  document: TypedDocumentString<TData, TVariables>,
  variables: TVariables,
): Promise<Result<TData>> {
  const accept = "application/graphql-response+json, application/json;q=0.9";
  const response = await post(gateway, accept, operationName, document.toString(), variables);
  return whole<TData>(response);
}

function post(
  gateway: Gateway,
  accept: string,
  operationName: string,
  query: string,
  variables: unknown,
): Promise<Response> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept,
    "apollographql-client-name": CLIENT_NAME,
    "apollographql-client-version": CLIENT_VERSION,
  };
  if (gateway.token) headers["authorization"] = `Bearer ${gateway.token}`;
  return fetch(gateway.url, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, operationName, variables }),
    ...(gateway.signal ? { signal: gateway.signal } : {}),
  });
}

/** A response that holds the whole answer, as JSON. */
async function whole<TData>(response: Response): Promise<Result<TData>> {
  const type = response.headers.get("content-type") ?? "";
  if (!type.includes("json")) {
    // Not the gateway answering (a proxy's error page): no GraphQL errors to read.
    throw new GatewayError(response.status, []);
  }
  const body = (await response.json()) as {
    data?: TData | null;
    errors?: GatewayErrorEntry[];
  };
  const errors = body.errors ?? [];
  if (body.data === undefined || body.data === null) {
    throw new GatewayError(response.status, errors);
  }
  return { data: body.data, errors };
}

// ---------------------------------------------------------------------------------------
// Answers in parts (@defer, @stream)

/** The result so far of an operation answered in parts; `hasNext` until its last part. */
export interface Arriving<TData> extends Result<TData> {
  hasNext: boolean;
}

/** One part after the first: deferred fields of an object, or a streamed list's items. */
interface Incremental {
  data?: Record<string, unknown> | null;
  items?: unknown[];
  path: Array<string | number>;
  label?: string;
  errors?: GatewayErrorEntry[];
}

/**
 * Like `execute`, for an operation with `@defer` or `@stream`: yields the data as it grows,
 * first without what is deferred, then after each later part with that part merged in. The
 * gateway sends parts as `multipart/mixed` (deferSpec=20220824); an answer that comes whole
 * is yielded once.
 */
export async function* executeInParts<TData, TVariables>(
  gateway: Gateway,
  operationName: string,
  document: TypedDocumentString<TData, TVariables>,
  variables: TVariables,
): AsyncGenerator<Arriving<TData>> {
  const accept = "multipart/mixed;deferSpec=20220824, application/json;q=0.9";
  const response = await post(gateway, accept, operationName, document.toString(), variables);
  const type = response.headers.get("content-type") ?? "";
  if (!type.startsWith("multipart/mixed") || !response.body) {
    yield { ...(await whole<TData>(response)), hasNext: false };
    return;
  }
  let data: TData | undefined;
  const errors: GatewayErrorEntry[] = [];
  for await (const part of parts(response.body)) {
    const next = part as {
      data?: TData | null;
      errors?: GatewayErrorEntry[];
      incremental?: Incremental[];
      hasNext?: boolean;
    };
    errors.push(...(next.errors ?? []));
    if (data === undefined) {
      if (next.data === undefined || next.data === null) {
        throw new GatewayError(response.status, errors);
      }
      data = next.data;
    }
    for (const entry of next.incremental ?? []) {
      errors.push(...(entry.errors ?? []));
      merge(data, entry);
    }
    yield { data, errors: [...errors], hasNext: next.hasNext ?? false };
  }
}

/** The JSON parts of a `multipart/mixed` body with boundary `-`, each as it completes. */
async function* parts(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  const boundary = "\r\n---";
  let buffer = "";
  const reader = body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    // A part is whole once the boundary after it has come; `\r\n-----` closes the body.
    for (;;) {
      const start = buffer.indexOf(boundary);
      const end = start < 0 ? -1 : buffer.indexOf(boundary, start + boundary.length);
      if (end < 0) break;
      const part = buffer.slice(start + boundary.length, end);
      buffer = buffer.slice(end);
      const json = part.slice(part.indexOf("\r\n\r\n") + 4);
      if (json.trim()) yield JSON.parse(json);
    }
  }
}

/** Merges a later part's entry into the data at its path, as GraphQL clients do. */
function merge(data: unknown, entry: Incremental): void {
  const path = entry.items ? entry.path.slice(0, -1) : entry.path;
  let at: unknown = data;
  for (const step of path) at = (at as Record<string | number, unknown>)[step];
  if (entry.items && Array.isArray(at)) at.push(...entry.items);
  else if (entry.data && at && typeof at === "object") Object.assign(at, entry.data);
}


// ---------------------------------------------------------------------------------------
// The product page

type Product = NonNullable<ProductPageQuery["product"]>;

export interface ProductPageView {
  title: string;
  brand: string;
  breadcrumbs: string[];
  /** The current price, formatted ("59,95 €"). */
  price: string;
  /** The struck-through regular price while on sale. */
  wasPrice: string | null;
  /** Partner offers, cheapest first; null when unavailable (show `buyUrl` alone). */
  offers: Array<{ shop: string; price: string; inStock: boolean; sizes: string[] }> | null;
  /** The offers are deferred and have not arrived yet (show a placeholder). */
  offersLoading: boolean;
  /** The offers are from the cache because the partner did not answer in time. */
  offersStale: boolean;
  buyUrl: string;
  similar: Array<{ id: number; name: string; brand: string; price: string }>;
  /** The similar products are deferred and have not arrived yet. */
  similarLoading: boolean;
  styledIn: Array<{ title: string; author: string }>;
  /** The codes of the parts that failed, e.g. UPSTREAM_UNAVAILABLE for the offers. */
  degraded: string[];
}

const IN_STOCK: readonly Availability[] = ["IN_STOCK", "LOW_STOCK"];

/** The product page's data, or null for an unknown product (the page shows a 404). */
export async function loadProductPage(
  gateway: Gateway,
  databaseId: number,
): Promise<ProductPageView | null> {
  const { data, errors } = await execute(gateway, "ProductPage", ProductPageDocument, {
    databaseId,
  });
  return data.product ? productView(data.product, errors, false) : null;
}

/**
 * The product page as it arrives: first without its similar products and offers (the
 * document defers them, so the page renders while the search and the partner answer), then
 * with each as it comes. Null for an unknown product.
 */
export async function* streamProductPage(
  gateway: Gateway,
  databaseId: number,
): AsyncGenerator<ProductPageView | null> {
  const results = executeInParts(gateway, "ProductPage", ProductPageDocument, { databaseId });
  for await (const { data, errors, hasNext } of results) {
    const product: Product | null = data.product;
    yield product ? productView(product, errors, hasNext) : null;
  }
}

/** The page's view of `product`; `pending`: parts of it are still to come. */
function productView(
  product: Product,
  errors: readonly GatewayErrorEntry[],
  pending: boolean,
): ProductPageView {
  const offers = product.offers?.offers
    .map((offer) => ({
      shop: offer.shop,
      price: offer.price.formatted,
      // A decimal string in major units; the offers of one product share a currency.
      amount: Number(offer.price.amount),
      inStock: IN_STOCK.includes(offer.availability),
      sizes: offer.sizes,
    }))
    .sort((a, b) => a.amount - b.amount)
    .map(({ amount: _amount, ...offer }) => offer);
  return {
    title: product.name,
    brand: product.brand.name,
    breadcrumbs: product.category.path.map((c) => c.name),
    price: product.currentPrice.formatted,
    wasPrice: product.onSale ? product.price.formatted : null,
    offers: offers ?? null,
    offersLoading: pending && !("offers" in product),
    offersStale: product.offers?.stale ?? false,
    buyUrl: product.deeplinkUrl,
    similar: (product.similar ?? []).map((p) => ({
      id: p.databaseId,
      name: p.name,
      brand: p.brand.name,
      price: p.currentPrice.formatted,
    })),
    similarLoading: pending && !("similar" in product),
    styledIn: product.collages.edges.map(({ node }) => ({
      title: node.title,
      author: node.author.displayName,
    })),
    degraded: errors.flatMap((e) => (e.extensions?.code ? [e.extensions.code] : [])),
  };
}

// ---------------------------------------------------------------------------------------
// The search page

type Search = SearchPageQuery["searchProducts"];

export interface SearchRequest {
  query?: string;
  filter?: ProductFilter;
  sort?: ProductSort;
  /** The `next` cursor of the previous page. */
  after?: string;
}

export interface SearchPageView {
  total: number;
  results: Array<{ id: number; name: string; brand: string; price: string; onSale: boolean }>;
  brandFacets: Array<{ id: string; name: string; count: number }>;
  colorFacets: Search["facets"]["colors"];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

export async function loadSearchPage(
  gateway: Gateway,
  request: SearchRequest,
): Promise<SearchPageView> {
  const { data } = await execute(gateway, "SearchPage", SearchPageDocument, {
    query: request.query ?? null,
    filter: request.filter ?? null,
    sort: request.sort ?? "RELEVANCE",
    after: request.after ?? null,
  });
  const search: Search = data.searchProducts;
  return {
    total: search.totalCount,
    results: search.edges.map(({ node }) => ({
      id: node.databaseId,
      name: node.name,
      brand: node.brand.name,
      price: node.currentPrice.formatted,
      onSale: node.onSale,
    })),
    // A facet's brand is null when it was deleted since the index was built.
    brandFacets: search.facets.brands.flatMap((f) =>
      f.brand ? [{ id: f.brand.id, name: f.brand.name, count: f.count }] : [],
    ),
    colorFacets: search.facets.colors,
    next: search.pageInfo.hasNextPage ? search.pageInfo.endCursor : null,
  };
}

// ---------------------------------------------------------------------------------------
// How a page uses them

export async function renderProductPage(gateway: Gateway, databaseId: number): Promise<string> {
  try {
    const page = await loadProductPage(gateway, databaseId);
    return page ? productLine(page) : "404";
  } catch (error) {
    if (error instanceof GatewayError && error.retryable) {
      return `busy, retry in ${error.retryAfter ?? 1}s`;
    }
    throw error;
  }
}

/** Renders the product page at once, then again when its offers arrive. */
export async function renderProductPageInParts(
  gateway: Gateway,
  databaseId: number,
  render: (line: string) => void,
): Promise<void> {
  for await (const page of streamProductPage(gateway, databaseId)) {
    render(page ? productLine(page) : "404");
  }
}

function productLine(page: ProductPageView): string {
  const offers = page.offersLoading
    ? "offers loading…"
    : (page.offers?.map((o) => `${o.shop} ${o.price}`).join(", ") ?? "see shop");
  return `${page.brand} ${page.title}: ${page.price} (${offers})`;
}
