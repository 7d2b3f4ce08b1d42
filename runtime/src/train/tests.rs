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
#[cfg_attr(miri, ignore = "30 epochs: too slow under Miri")]
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
#[cfg_attr(
    miri,
    ignore = "Miri perturbs exp and ln on purpose: two runs differ in the last bits"
)]
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

// ------------------------------------------------ issue 14: the run around

use crate::optim::{AdamW, Optimizer, RmsProp, Schedule};

/// A fresh temporary directory for one test, removed when the returned guard
/// drops (also when the test panics).
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("chainrule-train-{name}-"))
        .tempdir()
        .unwrap()
}

/// Every parameter's bits, in order.
fn bits<P: Parameters<Scalar = f32>>(p: &P) -> Vec<u32> {
    let mut out = Vec::new();
    p.visit(&mut |_, values| out.extend(values.iter().map(|v| v.to_bits())));
    out
}

/// The records without their timings (which differ between runs).
fn figures(history: &History) -> Vec<EpochRecord> {
    history
        .epochs
        .iter()
        .map(|r| EpochRecord {
            seconds: 0.0,
            samples_per_second: 0.0,
            ..r.clone()
        })
        .collect()
}

/// Trains 6 epochs at once, and 3 + 3 through a checkpoint with a fresh
/// network and optimizer; both must end bit for bit the same.
fn resume_matches<O: Optimizer<f32> + Clone + std::fmt::Debug>(name: &str, optimizer: O) {
    let train_set = clusters::<f32>(12, 1);
    let validation = clusters::<f32>(4, 2);
    let dir = temp_dir(&format!("resume-{name}"));
    let path = dir.path().join("run.ckpt.safetensors");
    let config = |epochs| silent::<4>(epochs).train_accuracy(true);

    let mut whole_net = Mlp::<f32, 2, 8, 3>::init(5);
    let mut whole_opt = optimizer.clone();
    let whole = train_with_validation(
        &mut whole_net,
        &mut whole_opt,
        &train_set,
        &validation,
        &config(6),
    )
    .unwrap();

    let mut first_net = Mlp::<f32, 2, 8, 3>::init(5);
    let mut first_opt = optimizer.clone();
    let first = train_with_validation(
        &mut first_net,
        &mut first_opt,
        &train_set,
        &validation,
        &config(3).checkpoint(&path),
    )
    .unwrap();
    assert_eq!(first.epochs.len(), 3);
    // A new process: other initial weights, a new optimizer; all of it
    // comes from the checkpoint.
    let mut net = Mlp::<f32, 2, 8, 3>::init(99);
    let mut opt = optimizer;
    let resumed = train_with_validation(
        &mut net,
        &mut opt,
        &train_set,
        &validation,
        &config(6).checkpoint(&path).resume(true),
    )
    .unwrap();
    assert_eq!(bits(&net), bits(&whole_net), "{name}: weights");
    assert_eq!(opt.state(), whole_opt.state(), "{name}: optimizer state");
    assert_eq!(figures(&resumed), figures(&whole), "{name}: history");
    assert_ne!(
        bits(&first_net),
        bits(&whole_net),
        "{name}: 3 epochs differ from 6"
    );
}

#[test]
#[cfg_attr(miri, ignore = "writes files: Miri isolates the file system")]
fn resuming_from_a_checkpoint_is_bit_identical_for_every_optimizer() {
    let steps = 6 * 9; // 36 rows in batches of 4
    resume_matches("sgd", Sgd::<f32>::new(0.1));
    resume_matches("sgd-momentum", Sgd::<f32>::new(0.05).momentum(0.9));
    resume_matches(
        "sgd-nesterov",
        Sgd::<f32>::new(0.05)
            .momentum(0.9)
            .nesterov(true)
            .weight_decay(1e-3)
            .schedule(Schedule::step(10, 0.5)),
    );
    resume_matches(
        "adam",
        Adam::<f32>::new(0.02)
            .clip_grad_norm(1.0)
            .schedule(Schedule::cosine(steps, 0.0)),
    );
    resume_matches(
        "adamw",
        AdamW::<f32>::new(0.02).schedule(Schedule::warmup(5, Schedule::Constant)),
    );
    resume_matches("rmsprop", RmsProp::<f32>::new(0.01));
    resume_matches("rmsprop-momentum", RmsProp::<f32>::new(0.005).momentum(0.5));
}

#[test]
#[cfg_attr(miri, ignore = "writes files: Miri isolates the file system")]
fn a_checkpoint_of_another_run_or_a_damaged_one_is_refused() {
    let data = clusters::<f32>(8, 1);
    let dir = temp_dir("mismatch");
    let path = dir.path().join("run.ckpt.safetensors");
    let mut net = Mlp::<f32, 2, 8, 3>::init(5);
    train(
        &mut net,
        &mut Adam::new(0.01),
        &data,
        &silent::<4>(2).checkpoint(&path),
    )
    .unwrap();
    let resume = |config: TrainConfig<4>, optimizer: &mut Adam<f32>| {
        let mut fresh = Mlp::<f32, 2, 8, 3>::init(1);
        let result = train(
            &mut fresh,
            optimizer,
            &data,
            &config.checkpoint(&path).resume(true),
        );
        (result, fresh)
    };
    let (result, fresh) = resume(silent::<4>(4).seed(4), &mut Adam::new(0.01));
    match result {
        Err(TrainError::CheckpointMismatch {
            what,
            checkpoint,
            this_run,
            ..
        }) => {
            assert_eq!(
                (what, checkpoint.as_str(), this_run.as_str()),
                ("seed", "3", "4")
            )
        }
        other => panic!("expected CheckpointMismatch, got {other:?}"),
    }
    assert_eq!(fresh, Mlp::init(1), "the network is unchanged");
    let mut sgd = Sgd::<f32>::new(0.1);
    let mut fresh = Mlp::<f32, 2, 8, 3>::init(1);
    let err = train(
        &mut fresh,
        &mut sgd,
        &data,
        &silent::<4>(4).checkpoint(&path).resume(true),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::CheckpointMismatch {
                what: "optimizer",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(sgd.steps(), 0);
    // One flipped byte in the data: the checksum refuses it.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let mut adam = Adam::new(0.01);
    let (result, fresh) = resume(silent::<4>(4), &mut adam);
    match result {
        Err(TrainError::Checkpoint(e)) => assert!(
            matches!(
                e.content(),
                Some(crate::weights::ContentError::ChecksumMismatch { .. })
            ),
            "{e:?}"
        ),
        other => panic!("expected a checksum error, got {other:?}"),
    }
    assert_eq!(fresh, Mlp::init(1));
    assert_eq!(adam.steps(), 0, "the optimizer is unchanged");
}

/// Feeds a scripted curve of the monitored figure to early stopping's
/// judgement, the network's weights set to the epoch number so that the
/// weights given back tell which epoch they are from. Returns the epoch it
/// stopped at (None: never) and the epoch whose weights the network ends with.
fn scripted(stopping: &EarlyStopping, curve: &[f64]) -> (Option<usize>, f32) {
    let mut net = Mlp::<f32, 2, 4, 3>::init(1);
    let mut progress = RunProgress {
        epoch: 0,
        history: History::default(),
        best: None,
        wait: 0,
    };
    let mut stopped = None;
    for (i, &value) in curve.iter().enumerate() {
        let epoch = i + 1;
        net.visit_mut(&mut |_, values| values.fill(epoch as f32));
        let record = EpochRecord {
            epoch,
            train_loss: value,
            train_accuracy: None,
            validation_loss: Some(value),
            validation_accuracy: Some(value),
            learning_rate: 0.1,
            seconds: 0.0,
            samples_per_second: 0.0,
        };
        if judge(stopping, &record, &net, &mut progress).unwrap() {
            stopped = Some(epoch);
            break;
        }
    }
    let config = silent::<4>(curve.len()).early_stopping(stopping.clone());
    finish(&mut net, &config, progress);
    (stopped, net.hidden.weight.as_slice()[0])
}

#[test]
fn early_stopping_stops_at_the_right_epoch_with_the_best_weights() {
    let loss = |patience| EarlyStopping::new(Monitor::ValidationLoss, patience);
    // Best at epoch 4 (0.7); epochs 5, 6, 7 do not improve on it.
    let curve = [1.0, 0.8, 0.9, 0.7, 0.75, 0.71, 0.76, 0.5];
    assert_eq!(scripted(&loss(3), &curve), (Some(7), 4.0));
    assert_eq!(scripted(&loss(1), &curve), (Some(3), 2.0));
    assert_eq!(scripted(&loss(4), &curve), (None, 8.0), "0.5 came in time");
    // Equal is not better; min_delta raises the bar: 0.75 → 0.72 is not
    // an improvement by more than 0.05.
    assert_eq!(scripted(&loss(2), &[1.0, 1.0, 1.0]), (Some(3), 1.0));
    let curve = [1.0, 0.75, 0.72, 0.71, 0.6];
    assert_eq!(scripted(&loss(2).min_delta(0.05), &curve), (Some(4), 2.0));
    // Accuracy: higher is better.
    let accuracy = EarlyStopping::new(Monitor::ValidationAccuracy, 2);
    assert_eq!(
        scripted(&accuracy, &[0.5, 0.9, 0.8, 0.9, 0.95]),
        (Some(4), 2.0)
    );
    // Without restoring, the network keeps the last epoch's weights.
    let keep = loss(3).restore_best(false);
    assert_eq!(scripted(&keep, &[1.0, 0.8, 0.9, 0.9, 0.9]), (Some(5), 5.0));
}

#[test]
#[cfg_attr(miri, ignore = "writes files: Miri isolates the file system")]
fn early_stopping_in_the_loop_gives_back_and_saves_the_best_epoch() {
    // A learning rate too large for this problem: the validation loss goes
    // up and down, so the best epoch is not the last.
    let train_set = clusters::<f32>(12, 1);
    let validation = clusters::<f32>(4, 7);
    let dir = temp_dir("early");
    let best_path = dir.path().join("best.safetensors");
    let stopping = EarlyStopping::new(Monitor::ValidationLoss, 3).best_weights(&best_path);
    let config = silent::<4>(60).early_stopping(stopping);
    let mut net = Mlp::<f32, 2, 8, 3>::init(5);
    let mut seen = Vec::new();
    let history = train_with_hook(
        &mut net,
        &mut Sgd::new(2.0),
        &train_set,
        Some(&validation),
        &config,
        |_, net, _| {
            seen.push(net.clone());
            Control::Continue
        },
    )
    .unwrap();
    // The best epoch by the history itself: the first lowest validation loss.
    let losses: Vec<f64> = history
        .epochs
        .iter()
        .filter_map(|e| e.validation_loss)
        .collect();
    let best = (0..losses.len())
        .min_by(|&a, &b| losses[a].total_cmp(&losses[b]).then(a.cmp(&b)))
        .unwrap();
    assert_eq!(history.best_epoch, Some(best + 1), "{losses:?}");
    match history.stop {
        Stop::EarlyStopping { epoch } => {
            assert_eq!(epoch, best + 1 + 3, "{losses:?}");
            assert_eq!(history.epochs.len(), epoch);
        }
        other => panic!("expected an early stop, got {other:?}: {losses:?}"),
    }
    assert!(
        best + 1 < history.epochs.len(),
        "the best epoch is not the last"
    );
    assert_eq!(
        net, seen[best],
        "the network holds the best epoch's weights"
    );
    let saved: Mlp<f32, 2, 8, 3> = crate::weights::load(&best_path).unwrap();
    assert_eq!(saved, seen[best]);
    // Watching a validation figure without a validation set is an error.
    let err = train(&mut net, &mut Sgd::new(0.1), &train_set, &config).unwrap_err();
    assert!(matches!(err, TrainError::NoValidationSet { .. }), "{err:?}");
}

#[test]
fn the_hook_sees_every_epoch_can_change_the_rate_and_can_stop() {
    let data = clusters::<f32>(8, 1); // 24 rows: 6 batches of 4
    let mut net = Mlp::<f32, 2, 8, 3>::init(5);
    let mut optimizer = Sgd::new(0.1);
    let mut epochs_seen = Vec::new();
    let history = train_with_hook(
        &mut net,
        &mut optimizer,
        &data,
        None,
        &silent::<4>(10),
        |record, _, optimizer: &mut Sgd<f32>| {
            epochs_seen.push(record.epoch);
            if record.epoch == 1 {
                optimizer.set_learning_rate(0.05);
            }
            if record.epoch == 3 {
                Control::Stop
            } else {
                Control::Continue
            }
        },
    )
    .unwrap();
    assert_eq!(epochs_seen, [1, 2, 3]);
    assert_eq!(history.epochs.len(), 3);
    assert_eq!(history.stop, Stop::Hook { epoch: 3 });
    assert_eq!(optimizer.steps(), 3 * 6);
    let rates: Vec<f64> = history.epochs.iter().map(|e| e.learning_rate).collect();
    assert_eq!(rates, [0.1, 0.05, 0.05]);
}

#[test]
#[cfg_attr(miri, ignore = "writes files: Miri isolates the file system")]
fn the_metrics_log_has_a_row_per_epoch_that_parses() {
    let train_set = clusters::<f32>(8, 1);
    let validation = clusters::<f32>(4, 2);
    let dir = temp_dir("log");
    for (file, json) in [("metrics.csv", false), ("metrics.jsonl", true)] {
        let path = dir.path().join(file);
        let mut net = Mlp::<f32, 2, 8, 3>::init(5);
        let config = silent::<4>(5).metrics_log(&path);
        let history = train_with_validation(
            &mut net,
            &mut Adam::new(0.01),
            &train_set,
            &validation,
            &config,
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let rows: Vec<Vec<Option<f64>>> = if json {
            lines
                .map(|line| {
                    let value: serde_json::Value = serde_json::from_str(line).unwrap();
                    LOG_COLUMNS
                        .iter()
                        .map(|column| value[column].as_f64())
                        .collect()
                })
                .collect()
        } else {
            assert_eq!(lines.next().unwrap(), LOG_COLUMNS.join(","));
            lines
                .map(|line| {
                    line.split(',')
                        .map(|field| (!field.is_empty()).then(|| field.parse().unwrap()))
                        .collect()
                })
                .collect()
        };
        assert_eq!(rows.len(), 5, "{file}: one row per epoch");
        for (row, record) in rows.iter().zip(&history.epochs) {
            let expected = [
                Some(record.epoch as f64),
                Some(record.train_loss),
                record.train_accuracy,
                record.validation_loss,
                record.validation_accuracy,
                Some(record.learning_rate),
                Some(record.seconds),
                Some(record.samples_per_second),
            ];
            assert_eq!(
                row.as_slice(),
                &expected,
                "{file}: the same figures, exactly"
            );
        }
        assert_eq!(rows[0][2], None, "{file}: no training accuracy measured");
    }
}

#[test]
#[cfg_attr(miri, ignore = "writes files: Miri isolates the file system")]
fn a_resumed_run_rewrites_the_log_with_every_epoch_once() {
    let data = clusters::<f32>(8, 1);
    let dir = temp_dir("log-resume");
    let (log, ckpt) = (dir.path().join("m.csv"), dir.path().join("c.safetensors"));
    let config = |epochs| {
        silent::<4>(epochs)
            .checkpoint(&ckpt)
            .resume(true)
            .metrics_log(&log)
    };
    let mut net = Mlp::<f32, 2, 8, 3>::init(5);
    train(&mut net, &mut Sgd::new(0.1), &data, &config(2)).unwrap();
    let mut net = Mlp::<f32, 2, 8, 3>::init(5);
    let history = train(&mut net, &mut Sgd::new(0.1), &data, &config(4)).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let epochs: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(epochs, ["1", "2", "3", "4"]);
    assert_eq!(history.epochs.len(), 4);
}

#[test]
fn evaluation_runs_one_forward_pass_per_batch() {
    // 21 rows: one batch of 16 and 5 single rows.
    let data = clusters::<f64>(7, 4);
    let net = Mlp::<f64, 2, 4, 3>::init(2);
    crate::test_nets::FORWARD_PASSES.with(|c| c.set(0));
    let evaluation = evaluate(&net, &data);
    assert_eq!(crate::test_nets::FORWARD_PASSES.with(|c| c.get()), 1 + 5);
    assert_eq!(evaluation.confusion.total(), 21);
}
