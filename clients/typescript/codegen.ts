// Generates the types of the web app's operations from the gateway's schema: one TypeScript
// file with the result and variables type of each operation and a typed document string to
// send. Validation of the operations against the schema happens here: an operation that
// asks for a field the schema no longer has fails `npm run generate`.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: "../../operations/*.graphql",
  // No operations found would generate an empty file that type-checks nothing.
  ignoreNoDocuments: false,
  generates: {
    "src/generated/graphql.ts": {
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
