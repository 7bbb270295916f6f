//! Copies the pinned GraphiQL browser build into OUT_DIR for `include_bytes!`, installing it
//! from the lock file first when `web/graphiql/node_modules` is missing (a clean clone).

use std::path::Path;
use std::process::Command;

const FILES: &[(&str, &str)] = &[
    ("graphiql/graphiql.min.js", "graphiql.min.js"),
    ("graphiql/graphiql.min.css", "graphiql.min.css"),
    (
        "react/umd/react.production.min.js",
        "react.production.min.js",
    ),
    (
        "react-dom/umd/react-dom.production.min.js",
        "react-dom.production.min.js",
    ),
];

fn main() {
    let web = Path::new("web/graphiql");
    println!("cargo::rerun-if-changed=web/graphiql/package-lock.json");
    println!("cargo::rerun-if-changed=web/graphiql/node_modules/.package-lock.json");
    let modules = web.join("node_modules");
    if FILES.iter().any(|(from, _)| !modules.join(from).exists()) {
        let status = Command::new("npm")
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--prefer-offline",
            ])
            .current_dir(web)
            .status()
            .expect("npm is needed to install the GraphiQL assets (web/graphiql)");
        assert!(status.success(), "npm ci in web/graphiql failed");
    }
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("graphiql");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/graphiql");
    for (from, to) in FILES {
        std::fs::copy(modules.join(from), out.join(to))
            .unwrap_or_else(|e| panic!("copy {from}: {e}"));
    }
}
