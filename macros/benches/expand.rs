//! The macro's cost for a 16-layer network: the time of the whole pipeline
//! (parse → graph → check → generate) and the size of what it writes, with
//! layers large enough to call kernels and small enough to be unrolled.
//!
//! `cargo bench -p chainrule-macros --bench expand`. A proc-macro crate
//! exports only macros, so this bench compiles the pipeline's modules into
//! itself.
// The modules are shared with the macro crate; what the bench does not use
// (the stub, the unit tests under `cfg(test)`) is allowed to be unused.
#![allow(dead_code, unused_imports)]

#[path = "../src/check/mod.rs"]
mod check;
#[path = "../src/codegen/mod.rs"]
mod codegen;
#[path = "../src/ir.rs"]
mod ir;
#[path = "../src/parse/mod.rs"]
mod parse;
#[path = "../src/vocab.rs"]
mod vocab;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use proc_macro2::TokenStream;

/// The pipeline, as the `#[proc_macro]` entry point wires it.
fn expand(input: TokenStream) -> TokenStream {
    let def = match syn::parse2::<parse::NetworkDef>(input) {
        Ok(def) => def,
        Err(err) => return err.to_compile_error(),
    };
    match check::check(ir::lower(def)) {
        Ok(model) => codegen::generate(&model, codegen::Options::default()),
        Err(err) => err.to_compile_error(),
    }
}

/// `layers` dense layers of `width` (relu), then a softmax head of 10.
fn deep(layers: usize, width: usize) -> TokenStream {
    let mut body = String::new();
    for k in 1..layers {
        body.push_str(&format!("l{k}: Dense<{width}, {width}> => relu,\n"));
    }
    body.push_str(&format!(
        "l{layers}: Dense<{width}, 10> => softmax,\nloss: cross_entropy,"
    ));
    format!("pub struct Deep {{ {body} }}")
        .parse()
        .expect("valid tokens")
}

fn sizes(name: &str, input: TokenStream) {
    let out = expand(input);
    let tokens = out.clone().into_iter().count();
    let flat = count_tokens(out.clone());
    let file: syn::File = syn::parse2(out).expect("expansion parses");
    let text = prettyplease::unparse(&file);
    println!(
        "{name}: {} lines, {} bytes formatted, {flat} tokens ({tokens} top-level trees)",
        text.lines().count(),
        text.len()
    );
}

fn count_tokens(stream: TokenStream) -> usize {
    stream
        .into_iter()
        .map(|t| match t {
            proc_macro2::TokenTree::Group(g) => 1 + count_tokens(g.stream()),
            _ => 1,
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let big = deep(16, 64);
    let small = deep(16, 8);
    let limit = deep(16, 16);
    sizes("16 layers of 64 (kernels)", big.clone());
    sizes("16 layers of 8 (unrolled, 64 weights each)", small.clone());
    sizes(
        "16 layers of 16 (unrolled, 256 weights each)",
        limit.clone(),
    );
    let mut group = c.benchmark_group("expand/16 layers");
    group.bench_function("width 64 (kernels)", |b| {
        b.iter(|| expand(black_box(big.clone())))
    });
    group.bench_function("width 8 (unrolled)", |b| {
        b.iter(|| expand(black_box(small.clone())))
    });
    group.bench_function("width 16 (unrolled)", |b| {
        b.iter(|| expand(black_box(limit.clone())))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
