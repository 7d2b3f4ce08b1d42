//! Once the workspace and the gradients exist, a training step allocates
//! nothing: `forward_with`, `loss_with`, `backward` and `sgd_step` are counted
//! by a global allocator that wraps the system one. Small networks allocate
//! nothing from the first call; at MNIST size the GEMM's per-thread packing
//! buffers grow once on the first pass (see [`Start::Warm`]), and every
//! later step allocates nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use chainrule::prelude::*;

/// Counts the allocations (and reallocations) of the current thread while
/// its `COUNTING` flag is set; test threads run in parallel, so the counts
/// are per thread.
struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the allocator may run while the thread's locals are torn down.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; only a counter is added.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// The number of allocations `f` makes on this thread, and its result.
fn allocations_in<R>(f: impl FnOnce() -> R) -> (usize, R) {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    let result = f();
    COUNTING.with(|c| c.set(false));
    (ALLOCATIONS.with(Cell::get), result)
}

/// The counter itself works: a `Vec` with capacity is one allocation.
#[test]
fn the_counter_sees_allocations() {
    let (count, v) = allocations_in(|| Vec::<u8>::with_capacity(10));
    assert_eq!(count, 1);
    drop(v);
    let (count, _) = allocations_in(Matrix::<f32, 3, 3>::zeros);
    assert_eq!(count, 1);
}

/// Where the counting starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Start {
    /// From the very first call after the workspace and gradients are made.
    Cold,
    /// After one uncounted forward and backward pass on this thread. The
    /// blocked GEMM (runtime/src/kernels) keeps per-thread packing buffers
    /// that grow on the first large products and are then reused: a one-time
    /// cost per thread, not a per-step one. The warm-up's allocations are
    /// still bounded, so a kernel that allocates per call fails here.
    Warm,
}

/// The most allocations the warm-up pass may make (packing buffers growing).
const WARM_UP_ALLOCATIONS: usize = 8;

/// Runs forward, loss, backward and an SGD step through the `Network` trait
/// (the path optimizers and training loops take) and asserts that none of
/// them allocates once the workspace and the gradients exist.
fn assert_step_allocates_nothing<N, Y, const IN: usize, const OUT: usize, const B: usize>(
    what: &str,
    start: Start,
    net: &mut N,
    x: &Matrix<N::Scalar, B, IN>,
    y: &Y,
) where
    N: Network<IN, OUT>,
    Y: Targets<N::Scalar, B, OUT>,
{
    let mut grads = net.new_gradients();
    let mut ws = net.new_workspace::<B>();

    if start == Start::Warm {
        let (count, _) = allocations_in(|| {
            let _ = net.forward_with(x, &mut ws);
            net.backward(x, y, &mut grads, &mut ws)
        });
        assert!(
            count <= WARM_UP_ALLOCATIONS,
            "{what}: the warm-up pass allocated {count} times"
        );
    }

    let (count, out_is_finite) = allocations_in(|| net.forward_with(x, &mut ws).is_finite());
    assert!(
        out_is_finite,
        "{what}: forward_with gave a non-finite output"
    );
    assert_eq!(count, 0, "{what}: forward_with allocated {count} times");

    let (count, loss) = allocations_in(|| net.loss_with(x, y, &mut ws));
    assert!(loss.is_finite(), "{what}: loss_with gave {loss:?}");
    assert_eq!(count, 0, "{what}: loss_with allocated {count} times");

    for call in 1..=2 {
        let (count, loss) = allocations_in(|| net.backward(x, y, &mut grads, &mut ws));
        assert!(loss.is_finite(), "{what}: backward gave {loss:?}");
        assert_eq!(
            count, 0,
            "{what}: backward call {call} allocated {count} times"
        );
    }

    let lr = N::Scalar::from_f64(0.01);
    let (count, ()) = allocations_in(|| net.sgd_step(&grads, lr));
    assert_eq!(count, 0, "{what}: sgd_step allocated {count} times");
}

network! {
    /// The smallest benchmark network: 2 → 8 → 1.
    struct Tiny {
        hidden: Dense<2, 8> => tanh,
        output: Dense<8, 1> => sigmoid,
        loss: binary_cross_entropy,
    }
}

network! {
    /// Every elementwise activation and `DenseNoBias`, with sse.
    struct EveryActivation {
        first: Dense<3, 5> => relu,
        second: Dense<5, 5> => leaky_relu,
        third: DenseNoBias<5, 4> => sigmoid,
        fourth: Dense<4, 4> => tanh,
        output: Dense<4, 2> => identity,
        loss: sse,
    }
}

network! {
    struct MeanSquared {
        hidden: Dense<3, 4> => sigmoid,
        output: Dense<4, 2> => relu,
        loss: mse,
    }
}

network! {
    /// The MNIST classifier: 784 → 128 → 10.
    struct Mnist {
        hidden: Dense<784, 128> => relu,
        output: Dense<128, 10> => softmax,
        loss: cross_entropy,
    }
}

#[test]
fn small_networks_train_without_allocating() {
    let mut tiny = Tiny::<f32>::new(1);
    let x = Matrix::<f32, 4, 2>::from_rows([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]);
    let y = Matrix::<f32, 4, 1>::from_rows([[0.0], [1.0], [1.0], [0.0]]);
    assert_step_allocates_nothing("2→8→1 f32, B=4", Start::Cold, &mut tiny, &x, &y);

    let mut tiny64 = Tiny::<f64>::new(1);
    let x = x.cast::<f64>();
    let y = y.cast::<f64>();
    assert_step_allocates_nothing("2→8→1 f64, B=4", Start::Cold, &mut tiny64, &x, &y);

    let mut every = EveryActivation::<f64>::new(2);
    let x = Matrix::<f64, 3, 3>::from_fn(|i, j| (i as f64 - j as f64) * 0.4 + 0.1);
    let y = Matrix::<f64, 3, 2>::from_fn(|i, j| (i + j) as f64 * 0.3);
    assert_step_allocates_nothing("every activation, sse", Start::Cold, &mut every, &x, &y);

    let mut mean = MeanSquared::<f32>::new(3);
    let x = Matrix::<f32, 5, 3>::from_fn(|i, j| (i * 3 + j) as f32 * 0.1);
    let y = Matrix::<f32, 5, 2>::filled(0.5);
    assert_step_allocates_nothing("mse", Start::Cold, &mut mean, &x, &y);
}

/// The generated inherent methods (not only the trait's) allocate nothing.
#[test]
fn inherent_methods_allocate_nothing() {
    let net = Tiny::<f32>::new(4);
    let x = Matrix::<f32, 4, 2>::from_rows([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]);
    let y = Matrix::<f32, 4, 1>::from_rows([[0.0], [1.0], [1.0], [0.0]]);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<4>();
    let (count, _) = allocations_in(|| net.forward_with(&x, &mut ws)[(0, 0)]);
    assert_eq!(count, 0, "forward_with allocated");
    let (count, _) = allocations_in(|| net.loss_with(&x, &y, &mut ws));
    assert_eq!(count, 0, "loss_with allocated");
    let (count, _) = allocations_in(|| net.backward(&x, &y, &mut grads, &mut ws));
    assert_eq!(count, 0, "backward allocated");
}

#[test]
fn mnist_training_step_allocates_nothing() {
    const B: usize = 64;
    let x = Matrix::<f32, B, 784>::from_fn(|i, j| ((i * 31 + j * 7) % 256) as f32 / 255.0);
    let labels: [usize; B] = core::array::from_fn(|i| (i * 7) % 10);
    let labels = ClassLabels::<B, 10>::new(labels).expect("labels below 10");
    let one_hot = labels.to_one_hot::<f32>();

    let mut net = Mnist::<f32>::new(5);
    assert_step_allocates_nothing(
        "784→128→10, B=64, labels",
        Start::Warm,
        &mut net,
        &x,
        &labels,
    );
    assert_step_allocates_nothing(
        "784→128→10, B=64, one-hot",
        Start::Warm,
        &mut net,
        &x,
        &one_hot,
    );
}

network! {
    /// LeNet-5-sized: convolutions, pooling, flatten.
    struct LeNet {
        input: [1, 28, 28],
        conv1: Conv2d<1, 6, 5, padding = 2> => relu,
        pool1: MaxPool2d<2>,
        conv2: Conv2d<6, 16, 5> => relu,
        pool2: AvgPool2d<2>,
        flat: Flatten,
        fc1: Dense<400, 120> => relu,
        out: Dense<120, 10> => softmax,
        loss: cross_entropy,
    }
}

network! {
    /// The graph form: a residual block, layer normalisation, a tied layer,
    /// a concat.
    struct GraphForm {
        stem: Dense<8, 16>,
        block: Dense<16, 16>,
        ln: LayerNorm<16>,
        head: Dense<24, 3>,
        fn forward(x: [8]) -> [3] {
            let h = relu(stem(x));
            let r = ln(h + tanh(block(h)));
            let again = tanh(block(r));
            softmax(head(concat(again, x)))
        }
        loss: cross_entropy + 0.01 * l2(block.weight),
    }
}

#[test]
fn convolutions_and_the_graph_form_allocate_nothing() {
    const B: usize = 8;
    let labels: [usize; B] = core::array::from_fn(|i| (i * 3) % 10);
    let labels = ClassLabels::<B, 10>::new(labels).expect("labels below 10");
    let images = Matrix::<f32, B, 784>::from_fn(|i, j| ((i * 13 + j * 3) % 255) as f32 / 255.0);
    let mut lenet = LeNet::<f32>::new(6);
    assert_step_allocates_nothing("LeNet, B=8", Start::Warm, &mut lenet, &images, &labels);

    let x = Matrix::<f32, B, 8>::from_fn(|i, j| (i as f32 - j as f32) * 0.2);
    let labels3 =
        ClassLabels::<B, 3>::new(core::array::from_fn(|i| i % 3)).expect("labels below 3");
    let mut graph = GraphForm::<f32>::new(7);
    assert_step_allocates_nothing("graph form, B=8", Start::Cold, &mut graph, &x, &labels3);
    // The input gradients too.
    let mut grads = graph.gradients();
    let mut ws = graph.workspace::<B>();
    let (count, _) =
        allocations_in(|| graph.backward_with_input_grads(&x, &labels3, &mut grads, &mut ws));
    assert_eq!(count, 0, "backward_with_input_grads allocated");
}
