//! "The macro never panics", tested: the whole pipeline (parse → lower →
//! check → generate, or errors and the stub) is fed token streams made by
//! mutating every `network!` invocation of `tests/ui/` and the examples —
//! tokens deleted, duplicated, swapped, replaced by huge, zero or negative
//! literals, by random or reserved identifiers, by stray punctuation, groups
//! emptied or re-delimited — under `catch_unwind`. Any input that panics is
//! written to `macros/tests/fuzz-regressions/` and fails the test; the
//! inputs kept there are replayed first, every run.
//!
//! `cargo test -p chainrule-macros fuzz` runs 3 000 mutants (CI);
//! `CHAINRULE_FUZZ_ITERATIONS=200000 cargo test --release -p
//! chainrule-macros fuzz -- --nocapture` is the long run (figures in the
//! README).

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The `network! { … }` bodies of every `.rs` file under `dirs`.
fn seeds(dirs: &[PathBuf]) -> Vec<(String, TokenStream)> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        {
            let Ok(source) = std::fs::read_to_string(path) else {
                continue;
            };
            let Ok(file) = syn::parse_file(&source) else {
                continue;
            };
            for item in file.items {
                if let syn::Item::Macro(m) = item {
                    if m.mac.path.is_ident("network") {
                        out.push((path.display().to_string(), m.mac.tokens));
                    }
                }
            }
        }
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

const IDENTS: &[&str] = &[
    "Dense",
    "DenseNoBias",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "GlobalAvgPool",
    "Flatten",
    "LayerNorm",
    "relu",
    "softmax",
    "sigmoid",
    "tanh",
    "concat",
    "flatten",
    "loss",
    "input",
    "fn",
    "forward",
    "let",
    "struct",
    "pub",
    "mse",
    "sse",
    "cross_entropy",
    "l2",
    "stride",
    "padding",
    "x",
    "h",
    "B",
    "T",
    "ws",
    "y",
    "dl_dx",
    "weight",
    "bias",
    "crate",
    "self",
    "chainrule",
    "unroll",
    "zzz",
];
const LITERALS: &[&str] = &[
    "0",
    "1",
    "2",
    "7",
    "255",
    "4294967296",
    "18446744073709551615",
    "99999999999999999999999",
    "0.5",
    "1e400",
    "-1",
    "1usize",
];
const PUNCT: &[char] = &[
    '<', '>', ',', ':', ';', '=', '+', '*', '-', '#', '.', '&', '!',
];

/// A random token.
fn random_token(rng: &mut ChaCha8Rng) -> TokenTree {
    match rng.random_range(0..4) {
        0 => TokenTree::Ident(Ident::new(
            IDENTS.choose(rng).copied().unwrap_or("x"),
            Span::call_site(),
        )),
        1 => {
            let text = LITERALS.choose(rng).copied().unwrap_or("0");
            match text
                .parse::<TokenStream>()
                .ok()
                .and_then(|t| t.into_iter().last())
            {
                Some(tree) => tree,
                None => TokenTree::Literal(Literal::usize_unsuffixed(0)),
            }
        }
        2 => {
            let spacing = if rng.random_bool(0.3) {
                Spacing::Joint
            } else {
                Spacing::Alone
            };
            TokenTree::Punct(Punct::new(
                PUNCT.choose(rng).copied().unwrap_or(','),
                spacing,
            ))
        }
        _ => {
            let delimiter = [Delimiter::Brace, Delimiter::Bracket, Delimiter::Parenthesis]
                .choose(rng)
                .copied()
                .unwrap_or(Delimiter::Parenthesis);
            TokenTree::Group(Group::new(delimiter, TokenStream::new()))
        }
    }
}

/// One mutation somewhere in `tokens` (recursing into a group at random).
fn mutate(tokens: TokenStream, rng: &mut ChaCha8Rng) -> TokenStream {
    let mut trees: Vec<TokenTree> = tokens.into_iter().collect();
    if trees.is_empty() {
        return std::iter::once(random_token(rng)).collect();
    }
    let at = rng.random_range(0..trees.len());
    // Descend into a group half of the time.
    if let TokenTree::Group(group) = &trees[at] {
        if rng.random_bool(0.5) {
            let mut inner = Group::new(group.delimiter(), mutate(group.stream(), rng));
            inner.set_span(group.span());
            trees[at] = TokenTree::Group(inner);
            return trees.into_iter().collect();
        }
    }
    match rng.random_range(0..8) {
        0 => {
            trees.remove(at);
        }
        1 => {
            let copy = trees[at].clone();
            trees.insert(at, copy);
        }
        2 => {
            let other = rng.random_range(0..trees.len());
            trees.swap(at, other);
        }
        3 => trees[at] = random_token(rng),
        4 => trees.insert(at, random_token(rng)),
        5 => {
            // A literal made huge, zero or negative-looking.
            if let TokenTree::Literal(_) = trees[at] {
                trees[at] = random_token(rng);
            } else {
                trees.insert(
                    at,
                    TokenTree::Literal(Literal::u64_unsuffixed(rng.random())),
                );
            }
        }
        6 => {
            if let TokenTree::Group(group) = &trees[at] {
                let delimiter = [
                    Delimiter::Brace,
                    Delimiter::Bracket,
                    Delimiter::Parenthesis,
                    Delimiter::None,
                ]
                .choose(rng)
                .copied()
                .unwrap_or(Delimiter::None);
                trees[at] = TokenTree::Group(Group::new(delimiter, group.stream()));
            } else {
                trees.truncate(at);
            }
        }
        _ => {
            let name: String = (0..rng.random_range(1..8))
                .map(|_| (b'a' + rng.random_range(0..26u8)) as char)
                .collect();
            trees[at] = TokenTree::Ident(Ident::new(&name, Span::call_site()));
        }
    }
    trees.into_iter().collect()
}

/// Runs the pipeline; `Err` with the panic message when it panics.
fn expand_catching(tokens: &TokenStream) -> Result<(), String> {
    let tokens = tokens.clone();
    catching(|| {
        let _ = crate::expand(tokens, crate::codegen::Options::default());
    })
}

/// Runs `f`; `Err` with the panic message when it panics.
fn catching(f: impl FnOnce()) -> Result<(), String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

fn regressions_dir() -> PathBuf {
    root().join("macros").join("tests").join("fuzz-regressions")
}

/// The inputs that once panicked, replayed.
fn regressions(dir: &Path) -> Vec<(PathBuf, TokenStream)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_some_and(|e| e == "tokens") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if let Ok(tokens) = text.parse::<TokenStream>() {
                out.push((path, tokens));
            }
        }
    }
    out
}

#[test]
fn fuzz_the_pipeline_never_panics() {
    let iterations: usize = std::env::var("CHAINRULE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let seed: u64 = std::env::var("CHAINRULE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_129);
    let corpus = seeds(&[root().join("tests").join("ui"), root().join("examples")]);
    assert!(
        corpus.len() >= 50,
        "only {} network! invocations found",
        corpus.len()
    );

    // Quiet: a panic is reported below, with its input.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    let kept = regressions(&regressions_dir());
    assert!(
        !kept.is_empty(),
        "the kept inputs are in {}",
        regressions_dir().display()
    );
    for (path, tokens) in kept {
        if let Err(message) = expand_catching(&tokens) {
            failures.push((path.display().to_string(), message, tokens));
        }
    }
    for (path, tokens) in &corpus {
        if let Err(message) = expand_catching(tokens) {
            failures.push((path.clone(), message, tokens.clone()));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let started = std::time::Instant::now();
    for _ in 0..iterations {
        let Some((_, original)) = corpus.choose(&mut rng) else {
            break;
        };
        let mut tokens = original.clone();
        for _ in 0..rng.random_range(1..4) {
            tokens = mutate(tokens, &mut rng);
        }
        if let Err(message) = expand_catching(&tokens) {
            failures.push(("mutant".to_string(), message, tokens));
        }
    }
    panic::set_hook(hook);
    println!(
        "fuzz: {} seeds, {iterations} mutants (seed {seed}) in {:.1} s, {} panics",
        corpus.len(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    if !failures.is_empty() {
        let dir = regressions_dir();
        let _ = std::fs::create_dir_all(&dir);
        for (k, (_, _, tokens)) in failures.iter().enumerate().take(20) {
            let _ = std::fs::write(
                dir.join(format!("seed{seed}-{k}.tokens")),
                tokens.to_string(),
            );
        }
        let (origin, message, tokens) = &failures[0];
        panic!( // ok: test-only
            "{} inputs made the macro panic (kept in {}); the first ({origin}): {message}\n{tokens}",
            failures.len(),
            dir.display()
        );
    }
}

#[test]
fn a_panic_is_caught_with_its_message() {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let caught = catching(|| panic!("index out of bounds")); // ok: test-only
    panic::set_hook(hook);
    assert_eq!(caught, Err("index out of bounds".to_string()));
    assert_eq!(catching(|| {}), Ok(()));
}

#[test]
fn mutants_differ_from_their_seed() {
    let seed: TokenStream = "struct N { a: Dense<1, 2>, loss: mse }"
        .parse()
        .expect("tokens"); // ok: test-only
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let changed = (0..100)
        .filter(|_| mutate(seed.clone(), &mut rng).to_string() != seed.to_string())
        .count();
    assert!(
        changed > 80,
        "only {changed} of 100 mutants changed anything"
    );
}
