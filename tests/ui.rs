//! The compile-time behaviour of `network!`, with trybuild: every file in
//! `tests/ui/` named `pass-*.rs` must compile and run; every other one must
//! fail to compile with exactly the messages pinned in its `.stderr` file.
//!
//! To re-pin after a deliberate change of a message, run
//! `TRYBUILD=overwrite cargo test --test ui` and read every changed `.stderr`.

use std::path::PathBuf;

/// One `#[test]` for the whole suite: trybuild builds all cases in one crate
/// graph, which is much faster than one test per case.
#[test]
fn ui() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir("tests/ui")
        .expect("tests/ui exists")
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    cases.sort();
    let is_pass = |path: &PathBuf| {
        path.file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with("pass-"))
    };
    let failing = cases.iter().filter(|path| !is_pass(path)).count();
    assert!(failing >= 25, "only {failing} compile-fail cases");

    let t = trybuild::TestCases::new();
    for case in &cases {
        if is_pass(case) {
            t.pass(case);
        } else {
            t.compile_fail(case);
        }
    }
}
