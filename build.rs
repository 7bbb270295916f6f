//! Copies the pinned GraphiQL browser build into OUT_DIR for `include_bytes!`, installing it
//! from the lock file first when `web/graphiql/node_modules` is missing (a clean clone) or
//! was installed from another version of the lock file.

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
    println!("cargo::rerun-if-changed=web/graphiql/node_modules/.ogrom-installed-lock");
    let modules = web.join("node_modules");
    // The lock file that the installed modules came from, recorded after each install.
    let stamp = modules.join(".ogrom-installed-lock");
    let lock =
        std::fs::read(web.join("package-lock.json")).expect("web/graphiql/package-lock.json");
    let current = std::fs::read(&stamp).is_ok_and(|installed| installed == lock);
    if !current || FILES.iter().any(|(from, _)| !modules.join(from).exists()) {
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
        std::fs::write(&stamp, &lock).expect("record the installed lock file");
    }
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("graphiql");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/graphiql");
    for (from, to) in FILES {
        std::fs::copy(modules.join(from), out.join(to))
            .unwrap_or_else(|e| panic!("copy {from}: {e}"));
    }
}
