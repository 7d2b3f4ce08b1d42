// The weights written into the weight file by build.rs, and recomputed by
// the host test to check what was loaded: entry `k` (row-major) of the
// tensor at position `index` (hidden.weight, hidden.bias, middle.weight, ...).
#[allow(dead_code)]
fn formula(index: usize, k: usize) -> f32 {
    let x = 0.37 * k as f64 + 1.1 * index as f64;
    (0.6 * (x.sin() + 0.25 * (3.0 * x).cos())) as f32
}
