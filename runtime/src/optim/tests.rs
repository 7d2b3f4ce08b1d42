//! Every optimizer against a hand-computed update over two steps, in f64.
//!
//! The network has five scalars in four tensors (`hidden.weight` 1×2,
//! `hidden.bias`, `output.weight` 1×1, `output.bias`), set by hand:
//! θ₀ = [1, −2, 0.5, 3, 0.25]; the gradients are set by hand too:
//! g₁ = [0.5, 0.25, −1, 2, 0] at the first step, g₂ = [1, −0.5, 0.5, 0.25, 4]
//! at the second. The exact expected values of the non-dyadic cases were
//! worked out in 40-digit decimal arithmetic from the documented formulas
//! (not from this code) and rounded to the nearest f64.

use super::*;
use crate::test_nets::{Mlp, MlpGradients};
use crate::Model;

type Net = Mlp<f64, 2, 1, 1>;

const THETA0: [f64; 5] = [1.0, -2.0, 0.5, 3.0, 0.25];
const G1: [f64; 5] = [0.5, 0.25, -1.0, 2.0, 0.0];
const G2: [f64; 5] = [1.0, -0.5, 0.5, 0.25, 4.0];

fn assign<P: Parameters<Scalar = f64>>(p: &mut P, values: &[f64; 5]) {
    let mut next = values.iter();
    p.visit_mut(&mut |_, entries| {
        for x in entries {
            *x = *next.next().unwrap();
        }
    });
    assert!(next.next().is_none());
}

fn flat<P: Parameters<Scalar = f64>>(p: &P) -> Vec<f64> {
    let mut out = Vec::new();
    p.visit(&mut |_, entries| out.extend_from_slice(entries));
    out
}

/// θ after each of the two steps.
fn two_steps<O: Optimizer<f64>>(mut optimizer: O) -> [Vec<f64>; 2] {
    let mut net = Net::zeros();
    assign(&mut net, &THETA0);
    let mut grads = MlpGradients::zeros();
    assign(&mut grads, &G1);
    optimizer.step(&mut net, &grads);
    let first = flat(&net);
    assign(&mut grads, &G2);
    optimizer.step(&mut net, &grads);
    assert_eq!(optimizer.steps(), 2);
    [first, flat(&net)]
}

#[track_caller]
fn assert_close(actual: &[f64], expected: &[f64; 5]) {
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= 1e-15,
            "entry {i}: got {a:?}, expected {e:?} (difference {:e})",
            a - e
        );
    }
}

#[test]
fn sgd_two_steps_exact() {
    // θ₁ = θ₀ − 0.5 g₁ = [0.75, −2.125, 1, 2, 0.25]
    // θ₂ = θ₁ − 0.5 g₂ = [0.25, −1.875, 0.75, 1.875, −1.75]  (all dyadic: exact)
    let [first, second] = two_steps(Sgd::new(0.5));
    assert_eq!(first, [0.75, -2.125, 1.0, 2.0, 0.25]);
    assert_eq!(second, [0.25, -1.875, 0.75, 1.875, -1.75]);
}

#[test]
fn sgd_momentum_two_steps_exact() {
    // μ = 0.5, η = 0.5. b₁ = g₁; θ₁ = θ₀ − 0.5 b₁ = [0.75, −2.125, 1, 2, 0.25]
    // b₂ = 0.5 b₁ + g₂ = [1.25, −0.375, 0, 1.25, 4]
    // θ₂ = θ₁ − 0.5 b₂ = [0.125, −1.9375, 1, 1.375, −1.75]
    let [first, second] = two_steps(Sgd::new(0.5).momentum(0.5));
    assert_eq!(first, [0.75, -2.125, 1.0, 2.0, 0.25]);
    assert_eq!(second, [0.125, -1.9375, 1.0, 1.375, -1.75]);
}

#[test]
fn sgd_nesterov_two_steps_exact() {
    // μ = 0.5, η = 0.5. b₁ = g₁, d₁ = g₁ + 0.5 b₁ = [0.75, 0.375, −1.5, 3, 0]
    // θ₁ = θ₀ − 0.5 d₁ = [0.625, −2.1875, 1.25, 1.5, 0.25]
    // b₂ = [1.25, −0.375, 0, 1.25, 4], d₂ = g₂ + 0.5 b₂ = [1.625, −0.6875, 0.5, 0.875, 6]
    // θ₂ = θ₁ − 0.5 d₂ = [−0.1875, −1.84375, 1, 1.0625, −2.75]
    let [first, second] = two_steps(Sgd::new(0.5).momentum(0.5).nesterov(true));
    assert_eq!(first, [0.625, -2.1875, 1.25, 1.5, 0.25]);
    assert_eq!(second, [-0.1875, -1.84375, 1.0, 1.0625, -2.75]);
}

#[test]
fn sgd_weight_decay_two_steps_exact() {
    // λ = 0.25, η = 0.5. g₁' = g₁ + 0.25 θ₀ = [0.75, −0.25, −0.875, 2.75, 0.0625]
    // θ₁ = θ₀ − 0.5 g₁' = [0.625, −1.875, 0.9375, 1.625, 0.21875]
    // g₂' = g₂ + 0.25 θ₁ = [1.15625, −0.96875, 0.734375, 0.65625, 4.0546875]
    // θ₂ = θ₁ − 0.5 g₂' = [0.046875, −1.390625, 0.5703125, 1.296875, −1.80859375]
    let [first, second] = two_steps(Sgd::new(0.5).weight_decay(0.25));
    assert_eq!(first, [0.625, -1.875, 0.9375, 1.625, 0.21875]);
    assert_eq!(
        second,
        [0.046875, -1.390625, 0.5703125, 1.296875, -1.80859375]
    );
}

#[test]
fn sgd_with_a_step_schedule_exact() {
    // η₀ = 0.5, η₁ = 0.25 (halved every step).
    // θ₁ = θ₀ − 0.5 g₁ = [0.75, −2.125, 1, 2, 0.25]
    // θ₂ = θ₁ − 0.25 g₂ = [0.5, −2, 0.875, 1.9375, −0.75]
    let optimizer = Sgd::new(0.5).schedule(Schedule::step(1, 0.5));
    assert_eq!(optimizer.learning_rate(), 0.5);
    let [first, second] = two_steps(optimizer);
    assert_eq!(first, [0.75, -2.125, 1.0, 2.0, 0.25]);
    assert_eq!(second, [0.5, -2.0, 0.875, 1.9375, -0.75]);
}

#[test]
fn sgd_with_clipping_two_steps() {
    // max 1, η = 0.5. ‖g₁‖ = √5.3125 = 2.30488611432322…, scale
    // 1/(‖g₁‖ + 1e−6) = 0.43386072740209989…; θ₁ = θ₀ − 0.5·scale·g₁.
    // ‖g₂‖ = √17.5625 = 4.19076365356005…, scale 0.23861993756926924…
    let [first, second] = two_steps(Sgd::new(0.5).clip_grad_norm(1.0));
    assert_close(
        &first,
        &[
            0.891534818149475,
            -2.0542325909252623,
            0.7169303637010499,
            2.5661392725979,
            0.25,
        ],
    );
    assert_close(
        &second,
        &[
            0.7722248493648404,
            -1.9945776065329452,
            0.6572753793087326,
            2.5363117804017414,
            -0.2272398751385385,
        ],
    );
}

#[test]
fn clipping_below_the_threshold_changes_nothing() {
    // ‖g₁‖ ≈ 2.305 < 3: the plain SGD result.
    let [first, _] = two_steps(Sgd::new(0.5).clip_grad_norm(3.0));
    assert_eq!(first, [0.75, -2.125, 1.0, 2.0, 0.25]);
}

#[test]
fn clip_grad_norm_scales_the_gradients() {
    let mut grads = MlpGradients::<f64, 2, 1, 1>::zeros();
    // [3, 0, 0, 4, 0]: norm 5; clipped to 1 → scale 1/(5 + 1e−6).
    assert_eq!(global_norm(&grads), 0.0);
    assign(&mut grads, &[3.0, 0.0, 0.0, 4.0, 0.0]);
    assert_eq!(global_norm(&grads), 5.0);
    assert_eq!(clip_grad_norm(&mut grads, 1.0), 5.0);
    let scaled = flat(&grads);
    assert!((scaled[0] - 3.0 / 5.000001).abs() < 1e-15);
    assert!((scaled[3] - 4.0 / 5.000001).abs() < 1e-15);
    assert!((global_norm(&grads) - 5.0 / 5.000001).abs() < 1e-15);
}

#[test]
fn adam_two_steps() {
    // η = 0.1, β = (0.9, 0.999), ε = 1e−8.
    // Step 1: m = 0.1 g₁, v = 0.001 g₁², m̂ = g₁, v̂ = g₁²:
    //   θ₁ = θ₀ − 0.1 g₁/(|g₁| + 1e−8) (0 where g₁ = 0), e.g. 1 − 0.1·0.5/0.50000001.
    // Step 2: m = 0.09 g₁ + 0.1 g₂, v = 0.000999 g₁² + 0.001 g₂²,
    //   m̂ = m/0.19, v̂ = v/0.001999, θ₂ = θ₁ − 0.1 m̂/(√v̂ + 1e−8).
    let [first, second] = two_steps(Adam::new(0.1));
    assert_close(
        &first,
        &[0.900000002, -2.099999996, 0.599999999, 2.9000000005, 0.25],
    );
    assert_close(
        &second,
        &[
            0.8034818006385087,
            -2.0633896442224535,
            0.626633702629097,
            2.8242776861770054,
            0.1755863179063276,
        ],
    );
}

#[test]
fn adam_l2_weight_decay_two_steps() {
    // As above with g ← g + 0.5 θ before the moments: g₁' = [1, −0.75, −0.75, 3.5, 0.125].
    let [first, second] = two_steps(Adam::new(0.1).weight_decay(0.5));
    assert_close(
        &first,
        &[
            0.900000001,
            -1.9000000013333334,
            0.5999999986666666,
            2.9000000002857145,
            0.15000000799999935,
        ],
    );
    assert_close(
        &second,
        &[
            0.8007033132039975,
            -1.8031256164288914,
            0.5915155845324787,
            2.8072086779490597,
            0.07356787531227683,
        ],
    );
}

#[test]
fn adamw_two_steps() {
    // Decoupled: θ ← θ (1 − 0.1·0.5) = 0.95 θ, then the Adam update of g (not
    // decayed). Step 1: θ₁ = 0.95 θ₀ − 0.1 g₁/(|g₁| + 1e−8) = [0.85…, …, 0.2375].
    let [first, second] = two_steps(AdamW::new(0.1).weight_decay(0.5));
    assert_close(
        &first,
        &[
            0.8500000019999999,
            -1.9999999960000001,
            0.574999999,
            2.7500000005,
            0.2375,
        ],
    );
    assert_close(
        &second,
        &[
            0.7109818005385087,
            -1.8633896444224534,
            0.572883702679097,
            2.5367776861520053,
            0.15121131790632758,
        ],
    );
}

#[test]
fn rmsprop_two_steps() {
    // η = 0.01, α = 0.99, ε = 1e−8. v₁ = 0.01 g₁², θ₁ = θ₀ − 0.01 g₁/(0.1|g₁| + 1e−8);
    // v₂ = 0.0099 g₁² + 0.01 g₂², θ₂ = θ₁ − 0.01 g₂/(√v₂ + 1e−8).
    let [first, second] = two_steps(RmsProp::new(0.01));
    assert_close(
        &first,
        &[
            0.900000019999996,
            -2.099999960000016,
            0.599999990000001,
            2.900000005,
            0.25,
        ],
    );
    assert_close(
        &second,
        &[
            0.8104677318088583,
            -2.010467679824908,
            0.555098668525565,
            2.887535014247898,
            0.15000000249999992,
        ],
    );
}

#[test]
fn rmsprop_momentum_two_steps() {
    // μ = 0.9: b₁ = g₁/(√v₁ + ε) (θ₁ as without momentum),
    // b₂ = 0.9 b₁ + g₂/(√v₂ + ε), θ₂ = θ₁ − 0.01 b₂.
    let [first, second] = two_steps(RmsProp::new(0.01).momentum(0.9));
    assert_close(
        &first,
        &[
            0.900000019999996,
            -2.099999960000016,
            0.599999990000001,
            2.900000005,
            0.25,
        ],
    );
    assert_close(
        &second,
        &[
            0.7204677498088548,
            -2.100467643824923,
            0.6450986595255659,
            2.797535018747898,
            0.15000000249999992,
        ],
    );
}

#[test]
fn state_is_made_afresh_for_another_network() {
    // The same Adam used on a net with other shapes starts new moments
    // instead of indexing out of bounds (the step count goes on).
    let mut adam = Adam::<f64>::new(0.1);
    let mut small = Net::zeros();
    let mut small_grads = MlpGradients::zeros();
    assign(&mut small_grads, &G1);
    adam.step(&mut small, &small_grads);
    let mut big = Mlp::<f64, 3, 2, 2>::zeros();
    let mut big_grads = big.new_gradients();
    big_grads.visit_mut(&mut |_, g| g.fill(1.0));
    adam.step(&mut big, &big_grads);
    // Fresh moments at t = 2 with g = 1: m = 0.1, v = 0.001, m̂ = 0.1/0.19,
    // v̂ = 0.001/0.001999, θ = −0.1 m̂/(√v̂ + 1e−8) = −0.0744136813045934…
    let mut entries = 0;
    big.visit(&mut |_, theta| {
        for &t in theta {
            assert!((t - -0.07441368130459348).abs() < 1e-15, "{t}");
            entries += 1;
        }
    });
    assert_eq!(entries, 3 * 2 + 2 + 2 * 2 + 2);
}

#[test]
fn pow_u64_is_plain_repeated_multiplication() {
    assert_eq!(pow_u64(0.5, 0), 1.0);
    assert_eq!(pow_u64(0.5, 3), 0.125);
    assert_eq!(pow_u64(0.9, 2), 0.9 * 0.9);
    assert_eq!(pow_u64(0.9, 3), 0.9 * (0.9 * 0.9));
    // 0.999^1000 = e^(1000·ln 0.999) = 0.36769542477096373… (by hand, 20
    // digits), within a few rounding errors of the multiplications.
    assert!((pow_u64(0.999, 1000) - 0.367_695_424_770_963_7).abs() < 1e-13);
    // Far past underflow: 0, not a NaN or a hang.
    assert_eq!(pow_u64(0.5, u64::MAX), 0.0);
    assert_eq!(pow_u64(1.0, u64::MAX), 1.0);
}

/// Steps `optimizer` twice, saves its state into a fresh copy of `make()`,
/// and checks that both then take the same third step, bit for bit.
fn state_continues<O: Optimizer<f64>>(make: impl Fn() -> O) {
    let mut net = Net::zeros();
    assign(&mut net, &THETA0);
    let mut grads = MlpGradients::zeros();
    let mut original = make();
    assign(&mut grads, &G1);
    original.step(&mut net, &grads);
    original.set_learning_rate(0.25);
    assign(&mut grads, &G2);
    original.step(&mut net, &grads);
    let state = original.state();
    assert_eq!(state.steps, 2);
    assert_eq!(state.learning_rate, 0.25);
    let mut restored = make();
    restored.set_state(state.clone()).unwrap();
    assert_eq!(restored.state(), state);
    assert_eq!(restored.learning_rate(), original.learning_rate());
    let mut copy = net.clone();
    assign(&mut grads, &G1);
    original.step(&mut net, &grads);
    restored.step(&mut copy, &grads);
    let bits = |p: &Net| flat(p).iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&copy), bits(&net), "{}", original.name());
}

#[test]
fn a_restored_state_continues_bit_for_bit() {
    state_continues(|| Sgd::new(0.5));
    state_continues(|| Sgd::new(0.5).momentum(0.5).nesterov(true));
    // A step schedule: plain multiplications. (A cosine one continues bit
    // for bit too, but Miri perturbs every `cos` it runs, so the two
    // optimizers here would see different rates under Miri.)
    state_continues(|| Adam::new(0.1).schedule(Schedule::step(1, 0.5)));
    state_continues(|| AdamW::new(0.1));
    state_continues(|| RmsProp::new(0.1));
    state_continues(|| RmsProp::new(0.1).momentum(0.9));
}

#[test]
fn state_buffers_are_named_for_what_they_hold() {
    let names = |state: OptimizerState<f64>| -> Vec<String> {
        state.buffers.into_iter().map(|b| b.name).collect()
    };
    assert!(names(Sgd::<f64>::new(0.1).state()).is_empty());
    assert_eq!(
        names(Sgd::<f64>::new(0.1).momentum(0.9).state()),
        ["momentum"]
    );
    assert_eq!(
        names(Adam::<f64>::new(0.1).state()),
        ["first_moment", "second_moment"]
    );
    assert_eq!(
        names(RmsProp::<f64>::new(0.1).momentum(0.9).state()),
        ["square_average", "momentum"]
    );
    // Before the first step the buffers hold no tensors; after it, one per
    // network tensor, as long as the tensor.
    let (_, adam) = {
        let mut adam = Adam::<f64>::new(0.1);
        let mut net = Net::zeros();
        let mut grads = MlpGradients::zeros();
        assign(&mut grads, &G1);
        adam.step(&mut net, &grads);
        ((), adam)
    };
    let state = adam.state();
    let lengths: Vec<usize> = state.buffers[0].tensors.iter().map(Vec::len).collect();
    assert_eq!(lengths, [2, 1, 1, 1]);
}

#[test]
fn a_state_made_for_other_tensor_lengths_is_made_again() {
    // Two networks with four tensors each, of other lengths: the state's
    // check against the tensor lengths must see that they differ.
    let lengths = |adam: &Adam<f64>| -> Vec<usize> {
        adam.state().buffers[0]
            .tensors
            .iter()
            .map(Vec::len)
            .collect()
    };
    let mut adam = Adam::<f64>::new(0.1);
    let mut narrow = Net::zeros();
    adam.step(&mut narrow, &MlpGradients::zeros());
    assert_eq!(lengths(&adam), [2, 1, 1, 1]);
    let mut wide = Mlp::<f64, 1, 2, 1>::zeros();
    let mut grads = MlpGradients::<f64, 1, 2, 1>::zeros();
    grads.hidden.weight.fill(1.0);
    adam.step(&mut wide, &grads);
    assert_eq!(lengths(&adam), [2, 2, 2, 1]);
    // The new buffers start from zero: the same update as an optimizer
    // whose first step (a zero gradient) was on the wide network itself.
    let mut reference = Adam::<f64>::new(0.1);
    let mut wide_again = Mlp::<f64, 1, 2, 1>::zeros();
    reference.step(&mut wide_again, &MlpGradients::zeros());
    reference.step(&mut wide_again, &grads);
    assert_eq!(wide, wide_again);
    assert!(wide.hidden.weight.as_slice().iter().all(|&w| w < 0.0));
}

#[test]
fn a_state_of_another_optimizer_is_refused_and_changes_nothing() {
    let sgd_state = Sgd::<f64>::new(0.1).momentum(0.9).state();
    let mut adam = Adam::<f64>::new(0.1);
    let before = adam.clone();
    let err = adam.set_state(sgd_state.clone()).unwrap_err();
    assert_eq!(err.optimizer, "adam");
    assert_eq!(err.found, ["momentum"]);
    assert_eq!(adam, before);
    // Momentum on when saved, off now (and the other way round).
    let mut plain = Sgd::<f64>::new(0.1);
    assert!(plain.set_state(sgd_state).is_err());
    let mut with_momentum = Sgd::<f64>::new(0.1).momentum(0.9);
    assert!(with_momentum
        .set_state(Sgd::<f64>::new(0.1).state())
        .is_err());
    // Buffers of different tensor counts.
    let mut state = Adam::<f64>::new(0.1).state();
    state.buffers[0].tensors = vec![vec![0.0; 2]];
    assert!(adam.set_state(state).is_err());
    assert!(err.to_string().contains("adam"), "{err}");
}
