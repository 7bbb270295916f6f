// Proves that Apollo Client (3.x, unconfigured) renders the product page in two steps against
// a running gateway: operations/ProductPage.graphql defers the product's partner offers, the
// HttpLink asks for `multipart/mixed;deferSpec=20220824` on its own, and the watched query
// emits the page without offers first, then again with them merged in.
//
//   node apollo-defer.mjs <graphql url> <databaseId> <path of ProductPage.graphql>
//
// Writes one JSON line per result the query emits:
//   {"loading": …, "networkStatus": …, "product": name | null,
//    "offers": null | number of offers | "absent" (not yet delivered), "errors": [codes]}
// Exits 0 once a result holds the offers field (or the observable completes); non-zero, with
// a message on stderr, on an error or after 20 s.
import { readFileSync } from "node:fs";
// The React-free entry point of @apollo/client (its root needs React); named by file, since
// Node's ESM resolver does not read the package's per-directory package.json.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";

const [uri, databaseId, documentPath] = process.argv.slice(2);
if (!uri || !databaseId || !documentPath) {
  console.error("usage: node apollo-defer.mjs <graphql url> <databaseId> <path of ProductPage.graphql>");
  process.exit(2);
}

const fail = (message) => {
  console.error(`apollo-defer: ${message}`);
  process.exit(1);
};
const timeout = setTimeout(() => fail("no result with offers within 20 s"), 20_000);

const client = new ApolloClient({
  link: new HttpLink({ uri, fetch }),
  cache: new InMemoryCache(),
});

const query = gql(readFileSync(documentPath, "utf8"));
const observable = client.watchQuery({
  query,
  variables: { databaseId: Number(databaseId) },
  fetchPolicy: "network-only",
  // Results that carry errors are emitted (and their codes printed) rather than thrown.
  errorPolicy: "all",
});

let subscription;
const done = () => {
  clearTimeout(timeout);
  subscription?.unsubscribe();
  client.stop();
  process.exit(0);
};

subscription = observable.subscribe({
  next(result) {
    const product = result.data?.product;
    const offers =
      product == null || !("offers" in product)
        ? "absent"
        : product.offers === null
          ? null
          : product.offers.offers.length;
    const errors = (result.errors ?? []).map((error) => error.extensions?.code ?? null);
    console.log(
      JSON.stringify({
        loading: result.loading,
        networkStatus: result.networkStatus,
        product: product?.name ?? null,
        offers,
        errors,
      }),
    );
    if (offers !== "absent") done();
  },
  error(error) {
    fail(`query failed: ${error?.stack ?? error}`);
  },
  complete() {
    done();
  },
});
