// Prints the schema a running gateway reports through introspection, as SDL: the standard
// introspection query of graphql-js with every option a current client may turn on, POSTed
// to the endpoint, rebuilt with buildClientSchema and printed with printSchema. What tools
// that introspect (GraphiQL, codegen from a URL, IDE plugins) see of the schema; the live
// check (tests/api/clients.rs) compares it with schema.graphql under `ogrom schema diff`.
//
//     node print-schema.mjs http://127.0.0.1:8080/graphql printed.graphql
import { writeFile } from "node:fs/promises";
import { buildClientSchema, getIntrospectionQuery, printSchema } from "graphql";

const [url, output] = process.argv.slice(2);
if (!url || !output) {
  console.error("usage: node print-schema.mjs <graphql endpoint URL> <output .graphql file>");
  process.exit(2);
}

const query = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
});

const response = await fetch(url, {
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json" },
  body: JSON.stringify({ query, operationName: "IntrospectionQuery" }),
});
const text = await response.text();
let body;
try {
  body = JSON.parse(text);
} catch {
  console.error(`${url} answered HTTP ${response.status} with no JSON:\n${text}`);
  process.exit(1);
}
// Errors (a refused query, a limit) would make buildClientSchema fail on missing data with
// a message that hides the cause: show the gateway's own answer instead.
if (!response.ok || body.errors || !body.data) {
  console.error(`${url} refused the introspection query (HTTP ${response.status}):`);
  console.error(JSON.stringify(body.errors ?? body, null, 2));
  process.exit(1);
}

const sdl = printSchema(buildClientSchema(body.data));
await writeFile(output, `${sdl}\n`);
