//! The training loop on a hand-written network (`test_nets::Mlp`).

use rand::{Rng, SeedableRng};

use super::*;
use crate::optim::{Adam, Sgd};
use crate::test_nets::Mlp;
use crate::Model;

/// Three well-separated clusters in the plane (class c around angle 2πc/3,
/// radius 2, noise ±0.5), `per_class` rows each.
fn clusters<T: Scalar>(per_class: usize, seed: u64) -> Dataset<T, 2, 3> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for i in 0..3 * per_class {
        let class = i % 3;
        let angle = core::f64::consts::TAU * class as f64 / 3.0;
        let x = 2.0 * angle.cos() + rng.random_range(-0.5..0.5);
        let y = 2.0 * angle.sin() + rng.random_range(-0.5..0.5);
        rows.push([T::from_f64(x), T::from_f64(y)]);
        labels.push(class);
    }
    Dataset::new(rows, labels).unwrap()
}

fn silent<const B: usize>(epochs: usize) -> TrainConfig<B> {
    TrainConfig::new(epochs).seed(3).progress(Progress::Silent)
}

#[test]
fn a_tiny_problem_trains_to_high_accuracy() {
    let train_set = clusters::<f64>(30, 1);
    let test_set = clusters::<f64>(10, 2);
    let mut net = Mlp::<f64, 2, 16, 3>::init(5);
    let before = evaluate(&net, &test_set);
    let mut optimizer = Adam::new(0.02);
    let config = silent::<8>(30).train_accuracy(true);
    let history =
        train_with_validation(&mut net, &mut optimizer, &train_set, &test_set, &config).unwrap();
    assert_eq!(history.epochs.len(), 30);
    let first = &history.epochs[0];
    let last = history.last().unwrap();
    assert!(last.train_loss < first.train_loss / 4.0, "{history:?}");
    assert!(last.validation_accuracy.unwrap() >= 0.95, "{history:?}");
    assert!(last.train_accuracy.unwrap() >= 0.95, "{history:?}");
    // The history's last validation figures are those of a fresh evaluation.
    let after = evaluate(&net, &test_set);
    assert_eq!(Some(after.accuracy), last.validation_accuracy);
    assert!((after.loss - last.validation_loss.unwrap()).abs() < 1e-12);
    assert!(after.loss < before.loss / 4.0);
    // 90 rows in batches of 8: 11 steps an epoch, the 2 tail rows left out.
    assert_eq!(optimizer.steps(), 30 * 11);
    assert!(last.samples_per_second > 0.0 && last.seconds >= 0.0);
}

#[test]
fn training_is_reproducible_from_the_seeds() {
    let data = clusters::<f64>(10, 1);
    let run = || {
        let mut net = Mlp::<f64, 2, 4, 3>::init(9);
        train(&mut net, &mut Sgd::new(0.1), &data, &silent::<4>(3)).unwrap();
        net
    };
    assert_eq!(run(), run());
}

#[test]
fn nan_loss_stops_training_and_keeps_the_last_finite_parameters() {
    // f32 with η = 1e38: the first update leaves parameters near ±1e37
    // (finite), whose logits overflow, so the loss of batch 2 is NaN.
    let data = clusters::<f32>(8, 1);
    let mut net = Mlp::<f32, 2, 8, 3>::init(1);
    // The parameters after the first step, computed here by hand: the same
    // first batch (the shuffler's first order) and one plain SGD step.
    let mut expected = net.clone();
    let mut shuffler = Shuffler::new(data.len(), 3);
    shuffler.shuffle();
    let mut x = Matrix::<f32, 4, 2>::zeros();
    let mut y = ClassLabels::<4, 3>::new([0; 4]).unwrap();
    data.fill_batch(&shuffler.order()[..4], &mut x, &mut y)
        .unwrap();
    let mut grads = expected.new_gradients();
    let mut ws = expected.new_workspace::<4>();
    expected.backward(&x, &y, &mut grads, &mut ws);
    expected.sgd_step(&grads, 1e38);

    let err = train(&mut net, &mut Sgd::new(1e38), &data, &silent::<4>(5)).unwrap_err();
    match err {
        TrainError::NonFiniteLoss {
            epoch: 1,
            batch: 2,
            loss,
            network: NetworkState::LastUpdate,
        } => assert!(!loss.is_finite()),
        other => panic!("unexpected: {other:?}"),
    }
    assert!(first_non_finite(&net).is_none());
    assert_eq!(net, expected);
    let message = err_message(&data);
    assert!(message.contains("epoch 1, batch 2"), "{message}");
}

fn err_message(data: &Dataset<f32, 2, 3>) -> String {
    let mut net = Mlp::<f32, 2, 8, 3>::init(1);
    train(&mut net, &mut Sgd::new(1e38), data, &silent::<4>(5))
        .unwrap_err()
        .to_string()
}

#[test]
fn an_update_to_infinity_is_undone_to_the_start_of_the_epoch() {
    // η = ∞ makes every parameter with a non-zero gradient infinite (and
    // 0·∞ = NaN the others) at the first step; the next loss is NaN.
    let data = clusters::<f64>(8, 1);
    let start = Mlp::<f64, 2, 8, 3>::init(1);
    let mut net = start.clone();
    let err = train(
        &mut net,
        &mut Sgd::new(f64::INFINITY),
        &data,
        &silent::<4>(2),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::NonFiniteLoss {
                epoch: 1,
                batch: 2,
                network: NetworkState::RestoredToEpochStart { epoch: 1 },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(net, start);
    assert!(err.to_string().contains("restored"), "{err}");
}

#[test]
fn a_bad_last_update_of_an_epoch_is_reported_with_its_tensor() {
    // Exactly one batch per epoch: the bad update is the epoch's last.
    let data = clusters::<f64>(2, 1); // 6 rows, B = 6
    let start = Mlp::<f64, 2, 8, 3>::init(1);
    let mut net = start.clone();
    let err = train(
        &mut net,
        &mut Sgd::new(f64::INFINITY),
        &data,
        &silent::<6>(2),
    )
    .unwrap_err();
    match &err {
        TrainError::NonFiniteParameters {
            epoch: 1,
            tensor,
            network: NetworkState::RestoredToEpochStart { epoch: 1 },
        } => assert_eq!(tensor, "hidden.weight"),
        other => panic!("unexpected: {other:?}"),
    }
    assert_eq!(net, start);
}

#[test]
fn a_network_with_a_nan_is_refused_before_training() {
    let data = clusters::<f64>(4, 1);
    let mut net = Mlp::<f64, 2, 4, 3>::init(1);
    net.output.bias.as_mut_slice()[2] = f64::NAN;
    let err = train(&mut net, &mut Sgd::new(0.1), &data, &silent::<4>(1)).unwrap_err();
    match &err {
        TrainError::NonFiniteParameters {
            epoch: 0,
            tensor,
            network: NetworkState::Unchanged,
        } => assert_eq!(tensor, "output.bias"),
        other => panic!("unexpected: {other:?}"),
    }
    assert!(err.to_string().contains("before training"), "{err}");
}

#[test]
fn too_few_rows_for_one_batch_is_an_error() {
    let data = clusters::<f64>(1, 1); // 3 rows
    let mut net = Mlp::<f64, 2, 4, 3>::init(1);
    let err = train(&mut net, &mut Sgd::new(0.1), &data, &silent::<4>(1)).unwrap_err();
    assert!(matches!(err, TrainError::TooFewRows { rows: 3, batch: 4 }));
    assert!(err
        .to_string()
        .contains("3 rows, fewer than one batch of 4"));
}

#[test]
fn evaluation_covers_every_row_including_the_last_partial_batch() {
    // 21 rows = one batch of 16 and 5 single rows.
    let data = clusters::<f64>(7, 4);
    let net = Mlp::<f64, 2, 4, 3>::init(2);
    let evaluation = evaluate(&net, &data);
    assert_eq!(evaluation.confusion.total(), 21);
    // Independently: predict every row, compare argmax with the label.
    let outputs = net.predict(data.features());
    let mut expected = ConfusionMatrix::<3>::new();
    for (output, &label) in outputs.iter().zip(data.labels()) {
        let predicted = (0..3)
            .max_by(|&a, &b| output[a].partial_cmp(&output[b]).unwrap().then(b.cmp(&a)))
            .unwrap();
        expected.record(label, predicted);
    }
    assert_eq!(evaluation.confusion, expected);
    // The loss is the mean of the one-row losses.
    let mut ws = net.new_workspace::<1>();
    let mut total = 0.0;
    for (row, &label) in data.features().iter().zip(data.labels()) {
        let x = Matrix::<f64, 1, 2>::from_rows([*row]);
        total += net.loss_with(&x, &ClassLabels::<1, 3>::new([label]).unwrap(), &mut ws);
    }
    assert!((evaluation.loss - total / 21.0).abs() < 1e-12);
}

#[test]
fn argmax_takes_the_first_largest_and_skips_nan() {
    assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.2]), 1);
    assert_eq!(argmax(&[f64::NAN, 0.1, 0.3]), 2);
    assert_eq!(argmax(&[f32::NAN, f32::NAN]), 0);
    assert_eq!(argmax(&[-3.0f64]), 0);
}
