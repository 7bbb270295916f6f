// Generates the types of the web app's operations from the gateway's schema: one TypeScript
// file with the result and variables type of each operation and a typed document string to
// send. Validation of the operations against the schema happens here: an operation that
// asks for a field the schema no longer has fails `npm run generate`.
//
// The schema is ../../schema.graphql unless CODEGEN_SCHEMA names another: a file, or the URL
// of a running gateway (`http://127.0.0.1:8080/graphql`), which is then introspected. The
// output is src/generated/graphql.ts unless CODEGEN_OUTPUT names another file. The live
// check (tests/api/clients.rs) generates once from each and compares the two files.
import type { CodegenConfig } from "@graphql-codegen/cli";

// `process` typed here: @types/node is not a dependency of this project (tsc would only
// find it when a tool's dependency happens to bring it along).
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process
  ?.env;
const schema = env?.CODEGEN_SCHEMA || "../../schema.graphql";
const output = env?.CODEGEN_OUTPUT || "src/generated/graphql.ts";

const config: CodegenConfig = {
  schema,
  documents: "../../operations/*.graphql",
  // No operations found would generate an empty file that type-checks nothing.
  ignoreNoDocuments: false,
  generates: {
    [output]: {
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        // A scalar the schema adds without a mapping here fails the build instead of
        // silently becoming `any`.
        strictScalars: true,
        scalars: {
          // RFC 3339 strings ("2025-01-31T12:00:00Z").
          DateTime: "string",
        },
        // The document as a string subclass: sent as-is, no `graphql` at run time.
        documentMode: "string",
        useTypeImports: true,
      },
    },
  },
};

export default config;
