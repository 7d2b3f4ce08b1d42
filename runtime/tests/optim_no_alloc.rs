//! Optimizers and the backward pass allocate nothing per step: the state is
//! made at the first step, then every step runs on it. Counted with a global
//! allocator that counts the allocations of the thread that asks.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use chainrule::optim::{Adam, AdamW, Optimizer, RmsProp, Schedule, Sgd};
use chainrule::prelude::*;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

thread_local! {
    /// The allocations of the last measured optimizer's first step.
    static FIRST_STEP: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

network! {
    struct Net {
        hidden: Dense<6, 8> => relu,
        output: Dense<8, 3> => softmax,
        loss: cross_entropy,
    }
}

/// Allocations during 10 steps after the first (which makes the state).
fn allocations_per_10_steps<O: Optimizer<f64>>(mut optimizer: O) -> usize {
    let mut net = Net::<f64>::new(1);
    let mut grads = net.gradients();
    let mut ws = net.workspace::<4>();
    let x = Matrix::<f64, 4, 6>::from_fn(|i, j| (i as f64 - j as f64) / 5.0);
    let y = ClassLabels::<4, 3>::new([0, 1, 2, 1]).unwrap();
    net.backward(&x, &y, &mut grads, &mut ws);
    let first = allocations();
    optimizer.step(&mut net, &grads);
    FIRST_STEP.with(|n| n.set(allocations() - first));
    let before = allocations();
    for _ in 0..10 {
        net.backward(&x, &y, &mut grads, &mut ws);
        optimizer.step(&mut net, &grads);
    }
    allocations() - before
}

#[test]
fn no_optimizer_allocates_after_its_first_step() {
    // The counter works: a Vec allocates.
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 3]);
    assert_eq!(allocations() - before, 1);
    drop(v);

    let schedule = Schedule::warmup(3, Schedule::cosine(20, 0.0));
    assert_eq!(allocations_per_10_steps(Sgd::new(0.1)), 0);
    assert_eq!(
        allocations_per_10_steps(
            Sgd::new(0.1)
                .momentum(0.9)
                .nesterov(true)
                .weight_decay(1e-4)
                .clip_grad_norm(1.0)
                .schedule(schedule.clone())
        ),
        0
    );
    assert_eq!(
        allocations_per_10_steps(
            Adam::new(1e-3)
                .clip_grad_norm(0.5)
                .schedule(schedule.clone())
        ),
        0
    );
    // Adam's first step makes its two moment buffers per tensor (4 tensors).
    assert!(FIRST_STEP.with(Cell::get) >= 8);
    assert_eq!(
        allocations_per_10_steps(AdamW::new(1e-3).weight_decay(0.1)),
        0
    );
    assert_eq!(
        allocations_per_10_steps(RmsProp::new(1e-3).momentum(0.5)),
        0
    );
}
