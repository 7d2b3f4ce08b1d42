//! The data-parallel backward pass (`chainrule::parallel`) against the
//! single-thread `Network::backward` over the whole batch, in f64: the same
//! loss and gradients up to rounding (1e-12 relative), for a mean loss and
//! for `sse`; the loss reductions the macro declares; panics passed on; the
//! row views of targets.

use std::panic::{self, AssertUnwindSafe};

use chainrule::parallel::ParallelTrainer;
use chainrule::prelude::*;
use chainrule::{LossReduction, TargetRows};

network! {
    /// Softmax + cross-entropy: the loss is the mean over the batch.
    pub struct Classifier {
        hidden: Dense<6, 7> => tanh,
        output: Dense<7, 4> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// Sum of squared errors: the loss is the sum over the batch.
    pub struct SumRegression {
        hidden: Dense<5, 6> => sigmoid,
        second: DenseNoBias<6, 4> => leaky_relu,
        output: Dense<4, 3>,
        loss: sse,
    }
}

network! {
    /// Mean squared error: the mean over the batch of the mean over outputs.
    pub struct MeanRegression {
        hidden: Dense<5, 6> => relu,
        output: Dense<6, 3> => tanh,
        loss: mse,
    }
}

network! {
    /// Sigmoid + binary cross-entropy, several outputs.
    pub struct MultiLabel {
        hidden: Dense<4, 5> => leaky_relu,
        output: Dense<5, 2> => sigmoid,
        loss: binary_cross_entropy,
    }
}

/// Inputs whose rows all differ, so a half that reads the wrong rows shows.
fn inputs<const B: usize, const IN: usize>(seed: f64) -> Matrix<f64, B, IN> {
    Matrix::from_fn(|i, j| ((i * IN + j) as f64 * 0.731 + seed).sin() * 1.3)
}

/// The entries of every tensor, in order.
fn tensors<P: Parameters<Scalar = f64>>(p: &P) -> Vec<(String, Vec<f64>)> {
    let mut out = Vec::new();
    p.visit(&mut |info, values| out.push((info.name.to_string(), values.to_vec())));
    out
}

/// `got` equals `want` up to `1e-12` relative: the loss against itself, each
/// gradient entry against the largest entry of its tensor (entries near zero
/// carry the rounding of the tensor's large ones).
fn assert_same<P: Parameters<Scalar = f64>>(loss: f64, want_loss: f64, got: &P, want: &P) {
    assert!(
        (loss - want_loss).abs() <= 1e-12 * want_loss.abs(),
        "loss {loss} against {want_loss} on one thread"
    );
    for ((name, g), (_, w)) in tensors(got).iter().zip(&tensors(want)) {
        let scale = w.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{name}: a zero gradient tests nothing");
        for (k, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * scale,
                "{name}[{k}]: {a} in parallel, {b} on one thread (scale {scale})"
            );
        }
    }
}

/// Runs a few training steps with both the parallel and the single-thread
/// backward from the same start and compares every step's loss and
/// gradients (the trainer is reused across steps and networks change).
fn compare<N, Y, const IN: usize, const OUT: usize, const B: usize, const H: usize>(
    x: &Matrix<f64, B, IN>,
    y: &Y,
) where
    N: Network<IN, OUT, Scalar = f64> + Sync,
    N::Gradients: Send,
    N::Workspace<H>: Send,
    Y: Targets<f64, B, OUT> + Sync,
{
    let mut net = N::init(11);
    let mut trainer = ParallelTrainer::<N, IN, OUT, B, H>::new(&net).expect("a worker thread");
    let mut ws = net.new_workspace::<B>();
    let mut want = net.new_gradients();
    let mut got = net.new_gradients();
    // Garbage in the caller's gradients: backward overwrites them.
    got.visit_mut(&mut |_, values| values.fill(1e6));
    for _ in 0..3 {
        let want_loss = net.backward(x, y, &mut want, &mut ws);
        let loss = trainer.backward(&net, x, y, &mut got);
        assert_same(loss, want_loss, &got, &want);
        let loss = trainer.backward_spawning(&net, x, y, &mut got);
        assert_same(loss, want_loss, &got, &want);
        assert!(want_loss.is_finite());
        net.sgd_step(&want, 0.05);
    }
}

#[test]
fn macro_declares_each_loss_reduction() {
    assert_eq!(
        <Classifier<f64> as Network<6, 4>>::LOSS_REDUCTION,
        LossReduction::MeanOverBatch
    );
    assert_eq!(
        <SumRegression<f64> as Network<5, 3>>::LOSS_REDUCTION,
        LossReduction::Sum
    );
    assert_eq!(
        <MeanRegression<f32> as Network<5, 3>>::LOSS_REDUCTION,
        LossReduction::MeanOverBatch
    );
    assert_eq!(
        <MultiLabel<f64> as Network<4, 2>>::LOSS_REDUCTION,
        LossReduction::MeanOverBatch
    );
}

#[test]
fn loss_reduction_matches_what_the_loss_does_over_a_doubled_batch() {
    // The same rows twice: a summed loss doubles, a mean loss stays.
    let net = SumRegression::<f64>::new(3);
    let x = inputs::<4, 5>(0.2);
    let y = inputs::<4, 3>(1.7);
    let x2 = Matrix::<f64, 8, 5>::from_fn(|i, j| x[(i % 4, j)]);
    let y2 = Matrix::<f64, 8, 3>::from_fn(|i, j| y[(i % 4, j)]);
    let (one, two) = (net.loss(&x, &y), net.loss(&x2, &y2));
    assert!(
        (two - 2.0 * one).abs() <= 1e-12 * one,
        "sse: {one}, doubled {two}"
    );

    let net = MeanRegression::<f64>::new(3);
    let (one, two) = (net.loss(&x, &y), net.loss(&x2, &y2));
    assert!(
        (two - one).abs() <= 1e-12 * one,
        "mse: {one}, doubled {two}"
    );
}

#[test]
fn cross_entropy_with_labels_matches_one_thread() {
    let x = inputs::<8, 6>(0.1);
    let y = ClassLabels::<8, 4>::new([0, 3, 1, 1, 2, 0, 3, 2]).unwrap();
    compare::<Classifier<f64>, _, 6, 4, 8, 4>(&x, &y);
}

#[test]
fn cross_entropy_with_one_hot_rows_matches_one_thread() {
    let y = ClassLabels::<8, 4>::new([2, 2, 0, 1, 3, 3, 0, 1]).unwrap();
    compare::<Classifier<f64>, _, 6, 4, 8, 4>(&inputs(0.4), &y.to_one_hot::<f64>());
}

#[test]
fn sse_matches_one_thread() {
    compare::<SumRegression<f64>, _, 5, 3, 10, 5>(&inputs(0.3), &inputs::<10, 3>(2.1));
}

#[test]
fn mse_matches_one_thread() {
    compare::<MeanRegression<f64>, _, 5, 3, 6, 3>(&inputs(0.5), &inputs::<6, 3>(0.9));
}

#[test]
fn binary_cross_entropy_matches_one_thread() {
    let y = Matrix::<f64, 4, 2>::from_rows([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 1.0]]);
    compare::<MultiLabel<f64>, _, 4, 2, 4, 2>(&inputs(0.7), &y);
}

#[test]
fn one_row_per_half_matches_one_thread() {
    let y = ClassLabels::<2, 4>::new([3, 1]).unwrap();
    compare::<Classifier<f64>, _, 6, 4, 2, 1>(&inputs(0.8), &y);
}

#[test]
fn each_half_sees_its_own_rows() {
    // For sse, the gradient of the batch is the sum of the rows' gradients:
    // the parallel result of a batch whose second half is a copy of the
    // first is twice that of the first half alone.
    let net = SumRegression::<f64>::new(5);
    let x = inputs::<3, 5>(0.6);
    let y = inputs::<3, 3>(1.1);
    let x2 = Matrix::<f64, 6, 5>::from_fn(|i, j| x[(i % 3, j)]);
    let y2 = Matrix::<f64, 6, 3>::from_fn(|i, j| y[(i % 3, j)]);
    let mut half = net.gradients();
    let half_loss = net.backward(&x, &y, &mut half, &mut net.workspace::<3>());
    let mut trainer = ParallelTrainer::<_, 5, 3, 6, 3>::new(&net).unwrap();
    let mut both = net.gradients();
    let loss = trainer.backward(&net, &x2, &y2, &mut both);
    let mut doubled = half.clone();
    doubled.visit_mut(&mut |_, values| values.iter_mut().for_each(|v| *v *= 2.0));
    assert_same(loss, 2.0 * half_loss, &both, &doubled);
}

/// Targets that panic when a given row is read.
struct PanickingTargets<const B: usize> {
    bad_row: usize,
}

impl<const B: usize> Targets<f64, B, 4> for PanickingTargets<B> {
    fn value(&self, row: usize, _col: usize) -> f64 {
        assert!(row != self.bad_row, "target row {row} is unreadable");
        0.25
    }
    fn class_indices(&self) -> Option<&[usize; B]> {
        None
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn a_panic_in_either_half_is_passed_on_and_the_trainer_still_works() {
    let net = Classifier::<f64>::new(2);
    let x = inputs::<8, 6>(0.2);
    let mut grads = net.gradients();
    let mut trainer = ParallelTrainer::<_, 6, 4, 8, 4>::new(&net).unwrap();
    // Row 6 is in the worker's half (its row 2), row 1 in the caller's.
    for (bad_row, in_view) in [(6, 2), (1, 1)] {
        let y = PanickingTargets::<8> { bad_row };
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            trainer.backward(&net, &x, &y, &mut grads)
        }));
        let payload = caught.expect_err("the panic reaches the caller");
        assert_eq!(
            panic_message(payload.as_ref()),
            format!("target row {bad_row} is unreadable"),
            "row {in_view} of its half"
        );
    }
    // Still usable: the worker is parked again.
    let y = ClassLabels::<8, 4>::new([0, 1, 2, 3, 0, 1, 2, 3]).unwrap();
    let mut want = net.gradients();
    let want_loss = net.backward(&x, &y, &mut want, &mut net.workspace::<8>());
    let loss = trainer.backward(&net, &x, &y, &mut grads);
    assert_same(loss, want_loss, &grads, &want);
}

#[test]
fn target_rows_read_the_rows_of_their_part() {
    let y = Matrix::<f64, 4, 3>::from_fn(|i, j| (10 * i + j) as f64);
    let back = TargetRows::<_, 4, 2>::new::<f64, 3>(&y, 2);
    assert_eq!(back.value(0, 0), 20.0);
    assert_eq!(back.value(1, 2), 32.0);
    assert_eq!(Targets::<f64, 2, 3>::class_indices(&back), None);

    let labels = ClassLabels::<6, 5>::new([4, 0, 3, 1, 2, 2]).unwrap();
    let middle = TargetRows::<_, 6, 3>::new::<f32, 5>(&labels, 1);
    assert_eq!(
        Targets::<f32, 3, 5>::class_indices(&middle),
        Some(&[0, 3, 1])
    );
    assert_eq!(Targets::<f32, 3, 5>::value(&middle, 1, 3), 1.0);
    assert_eq!(Targets::<f32, 3, 5>::value(&middle, 1, 0), 0.0);
}

#[test]
#[should_panic(expected = "rows 3..3+2 are not all in a batch of 4 rows")]
fn target_rows_past_the_batch_panic() {
    let y = Matrix::<f64, 4, 3>::zeros();
    let _ = TargetRows::<_, 4, 2>::new::<f64, 3>(&y, 3);
}
