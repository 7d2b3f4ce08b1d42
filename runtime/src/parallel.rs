//! Opt-in data parallelism on two cores: the backward pass over a batch of
//! `B` rows split into two halves of `H = B / 2` rows, one per thread, each
//! with its own workspace and gradients; the two losses and gradients are then
//! combined as the network's loss says ([`Network::LOSS_REDUCTION`]): summed
//! for `sse`, averaged for the mean losses. The result equals the
//! single-thread [`Network::backward`] over the whole batch up to float
//! rounding.
//!
//! Everything else in chainrule runs on the calling thread; this module is
//! only used when you make a [`ParallelTrainer`].
//!
//! ```
//! use chainrule::parallel::ParallelTrainer;
//! use chainrule::prelude::*;
//!
//! network! {
//!     struct Classifier {
//!         hidden: Dense<4, 8> => relu,
//!         output: Dense<8, 3> => softmax,
//!         loss: cross_entropy,
//!     }
//! }
//!
//! let mut net = Classifier::<f64>::new(1);
//! let x = Matrix::<f64, 8, 4>::from_fn(|i, j| (i + j) as f64 / 10.0);
//! let y = ClassLabels::<8, 3>::new([0, 1, 2, 0, 1, 2, 0, 1]).unwrap();
//! let mut grads = net.gradients();
//! // Batches of 8 rows, two halves of 4; the worker thread starts here.
//! let mut trainer = ParallelTrainer::<Classifier<f64>, 4, 3, 8, 4>::new(&net).unwrap();
//! let loss = trainer.backward(&net, &x, &y, &mut grads);
//!
//! // The same as on one thread, up to rounding.
//! let mut one = net.gradients();
//! let single = net.backward(&x, &y, &mut one, &mut net.workspace::<8>());
//! assert!((loss - single).abs() <= 1e-12 * single.abs());
//! net.sgd_step(&grads, 0.1);
//! ```

use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use crate::{LossReduction, Matrix, Network, Parameters, Scalar, TargetRows, Targets};

/// The data-parallel backward pass of network `N` (`IN` inputs, `OUT`
/// outputs) over batches of `B` rows, split into two halves of `H` rows.
///
/// Made once: [`new`](Self::new) allocates the second half's workspace,
/// gradients and input rows and starts one worker thread, which stays parked
/// between steps; [`backward`](Self::backward) allocates nothing. `B == 2·H`
/// is checked when the code compiles:
///
/// ```compile_fail
/// use chainrule::parallel::ParallelTrainer;
/// use chainrule::prelude::*;
/// network! {
///     struct Line { output: Dense<2, 1>, loss: sse }
/// }
/// let net = Line::<f64>::new(0);
/// // 6 rows are not two halves of 2.
/// let _ = ParallelTrainer::<Line<f64>, 2, 1, 6, 2>::new(&net);
/// ```
///
/// The worker thread ends when the trainer is dropped.
pub struct ParallelTrainer<N, const IN: usize, const OUT: usize, const B: usize, const H: usize>
where
    N: Network<IN, OUT>,
{
    /// The first half's input rows and workspace (used on the calling thread).
    here: Half<N, IN, OUT, H>,
    /// The second half's, with its own gradients (used on the worker).
    there: Half<N, IN, OUT, H>,
    /// The second half's gradients.
    there_grads: N::Gradients,
    /// The parked worker thread.
    worker: Worker,
}

/// The buffers of one half of the batch.
struct Half<N: Network<IN, OUT>, const IN: usize, const OUT: usize, const H: usize> {
    x: Matrix<N::Scalar, H, IN>,
    ws: N::Workspace<H>,
}

impl<N: Network<IN, OUT>, const IN: usize, const OUT: usize, const H: usize> Half<N, IN, OUT, H> {
    fn new(net: &N) -> Self {
        Self {
            x: Matrix::zeros(),
            ws: net.new_workspace::<H>(),
        }
    }

    /// Copies rows `first .. first + H` of `x` in, runs the backward pass on
    /// them and the same rows of `y`: returns the half's loss, `grads`
    /// overwritten.
    fn backward<const B: usize, Y>(
        &mut self,
        net: &N,
        x: &Matrix<N::Scalar, B, IN>,
        y: &Y,
        first: usize,
        grads: &mut N::Gradients,
    ) -> N::Scalar
    where
        Y: Targets<N::Scalar, B, OUT> + ?Sized,
    {
        let rows = &x.as_slice()[first * IN..(first + H) * IN];
        self.x.as_mut_slice().copy_from_slice(rows);
        let y = TargetRows::<Y, B, H>::new::<N::Scalar, OUT>(y, first);
        net.backward(&self.x, &y, grads, &mut self.ws)
    }
}

impl<N, const IN: usize, const OUT: usize, const B: usize, const H: usize>
    ParallelTrainer<N, IN, OUT, B, H>
where
    N: Network<IN, OUT>,
{
    /// The buffers for batches of `B` rows of `net` (any network of the same
    /// type: only its shapes matter) and the worker thread.
    ///
    /// # Errors
    /// When the operating system cannot start the worker thread.
    pub fn new(net: &N) -> io::Result<Self> {
        const {
            assert!(
                B == 2 * H && H > 0,
                "a ParallelTrainer splits B rows into two halves of H: B must be 2·H, H > 0"
            );
            assert!(
                !matches!(N::LOSS_REDUCTION, LossReduction::NotSplittable),
                "a ParallelTrainer cannot split this network's loss: a sum of squared errors plus a penalty is not the sum of the losses of two halves (use `mse`, or train on one thread)"
            );
        }
        Ok(Self {
            here: Half::new(net),
            there: Half::new(net),
            there_grads: net.new_gradients(),
            worker: Worker::start()?,
        })
    }

    /// Forward, loss and backward over the `B` rows of `x` and `y`, rows
    /// `0..H` on the calling thread and rows `H..B` on the worker: returns the
    /// loss and overwrites `grads` with its gradient, as [`Network::backward`]
    /// does over the whole batch (equal up to float rounding). Allocates
    /// nothing.
    ///
    /// # Panics
    /// When the network's backward pass panics on either thread (the panic is
    /// passed on here, after both halves have stopped).
    pub fn backward<Y>(
        &mut self,
        net: &N,
        x: &Matrix<N::Scalar, B, IN>,
        y: &Y,
        grads: &mut N::Gradients,
    ) -> N::Scalar
    where
        N: Sync,
        N::Gradients: Send,
        N::Workspace<H>: Send,
        Y: Targets<N::Scalar, B, OUT> + Sync + ?Sized,
    {
        let (here, there, there_grads) = (&mut self.here, &mut self.there, &mut self.there_grads);
        let mut there_loss = N::Scalar::ZERO;
        let mut job = || there_loss = there.backward(net, x, y, H, there_grads);
        let here_loss = self
            .worker
            .run(&mut job, || here.backward(net, x, y, 0, grads));
        combine::<N, IN, OUT>(grads, &self.there_grads, here_loss, there_loss)
    }

    /// The same as [`backward`](Self::backward), but the second half runs on
    /// a thread spawned for this call (`std::thread::scope`) instead of the
    /// parked worker: allocates the thread's stack every call. For comparison
    /// (see `benches/parallel.rs`).
    ///
    /// # Panics
    /// When the network's backward pass panics on either thread, or the
    /// operating system cannot start a thread.
    pub fn backward_spawning<Y>(
        &mut self,
        net: &N,
        x: &Matrix<N::Scalar, B, IN>,
        y: &Y,
        grads: &mut N::Gradients,
    ) -> N::Scalar
    where
        N: Sync,
        N::Gradients: Send,
        N::Workspace<H>: Send,
        Y: Targets<N::Scalar, B, OUT> + Sync + ?Sized,
    {
        let (here, there, there_grads) = (&mut self.here, &mut self.there, &mut self.there_grads);
        let (here_loss, there_loss) = thread::scope(|scope| {
            let worker = scope.spawn(|| there.backward(net, x, y, H, there_grads));
            let here_loss = here.backward(net, x, y, 0, grads);
            match worker.join() {
                Ok(there_loss) => (here_loss, there_loss),
                Err(payload) => panic::resume_unwind(payload),
            }
        });
        combine::<N, IN, OUT>(grads, &self.there_grads, here_loss, there_loss)
    }
}

impl<N, const IN: usize, const OUT: usize, const B: usize, const H: usize> core::fmt::Debug
    for ParallelTrainer<N, IN, OUT, B, H>
where
    N: Network<IN, OUT>,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ParallelTrainer")
            .field("batch", &B)
            .field("half", &H)
            .finish_non_exhaustive()
    }
}

/// Combines the second half's gradients into `grads` (the first half's) and
/// returns the batch's loss, as `N`'s loss reduction says: for equal halves,
/// a sum stays a sum and a mean over the batch is the mean of the two means.
fn combine<N: Network<IN, OUT>, const IN: usize, const OUT: usize>(
    grads: &mut N::Gradients,
    other: &N::Gradients,
    loss: N::Scalar,
    other_loss: N::Scalar,
) -> N::Scalar {
    let half = N::Scalar::from_f64(0.5);
    grads.visit_mut(&mut |info, mine| {
        // The tensors come in the same order in both; a network has a
        // handful, so looking each one up by index costs nothing.
        other.visit(&mut |other_info, theirs| {
            if other_info.index != info.index {
                return;
            }
            match N::LOSS_REDUCTION {
                LossReduction::Sum => {
                    for (g, &o) in mine.iter_mut().zip(theirs) {
                        *g += o;
                    }
                }
                LossReduction::MeanOverBatch | LossReduction::NotSplittable => {
                    for (g, &o) in mine.iter_mut().zip(theirs) {
                        *g = (*g + o) * half;
                    }
                }
            }
        });
    });
    match N::LOSS_REDUCTION {
        LossReduction::Sum => loss + other_loss,
        LossReduction::MeanOverBatch | LossReduction::NotSplittable => (loss + other_loss) * half,
    }
}

/// A job for the worker: a closure on the posting thread's stack, its
/// lifetime erased. Only [`Worker::run`] makes one, and it does not return
/// (nor unwind) before the worker has finished with it.
struct JobPtr(*mut (dyn FnMut() + Send + 'static));

// SAFETY: the closure behind the pointer is `Send`; the pointer is only
// dereferenced by the worker while `Worker::run` keeps the closure alive.
unsafe impl Send for JobPtr {}

/// What the worker is asked to do, or has done.
enum Slot {
    /// Nothing posted.
    Idle,
    /// A job to run.
    Posted(JobPtr),
    /// The job is finished: `Some(payload)` when it panicked.
    Finished(Option<Box<dyn Any + Send>>),
    /// The worker is to stop.
    Exit,
}

/// The state the posting thread and the worker share.
struct Shared {
    slot: Mutex<Slot>,
    /// Signalled when a job or `Exit` is posted.
    posted: Condvar,
    /// Signalled when a job is finished.
    finished: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // No code panics while holding the lock; a poisoned lock still holds
        // a consistent slot.
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the posted job is finished; returns its panic, if any.
    fn wait_finished(&self) -> Option<Box<dyn Any + Send>> {
        let mut slot = self.lock();
        loop {
            match std::mem::replace(&mut *slot, Slot::Idle) {
                Slot::Finished(panic) => return panic,
                other => *slot = other,
            }
            slot = self
                .finished
                .wait(slot)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// One thread, parked on a condition variable between jobs.
struct Worker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn start() -> io::Result<Self> {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot::Idle),
            posted: Condvar::new(),
            finished: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("chainrule-parallel".into())
            .spawn(move || Self::serve(&theirs))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// The worker's loop: runs posted jobs until told to exit.
    fn serve(shared: &Shared) {
        loop {
            let job = {
                let mut slot = shared.lock();
                loop {
                    match std::mem::replace(&mut *slot, Slot::Idle) {
                        Slot::Posted(job) => break job,
                        Slot::Exit => return,
                        other => *slot = other,
                    }
                    slot = shared
                        .posted
                        .wait(slot)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            // SAFETY: `run` keeps the closure alive and unaliased until it
            // sees `Finished`, which is set below, after the call.
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| unsafe { (*job.0)() }));
            *shared.lock() = Slot::Finished(outcome.err());
            shared.finished.notify_one();
        }
    }

    /// Runs `job` on the worker and `here` on this thread at the same time;
    /// returns `here`'s result once both are finished. A panic in either is
    /// passed on, after both have stopped.
    fn run<R>(&mut self, job: &mut (dyn FnMut() + Send + '_), here: impl FnOnce() -> R) -> R {
        let job: *mut (dyn FnMut() + Send + '_) = job;
        // SAFETY: only the lifetime bound changes. The worker calls the
        // closure before setting `Finished`, and this function does not
        // return or unwind before it has seen `Finished` (the guard waits on
        // unwinding), so the closure outlives every use. `&mut self` makes
        // this the only job in flight.
        let job = unsafe {
            std::mem::transmute::<*mut (dyn FnMut() + Send + '_), *mut (dyn FnMut() + Send + 'static)>(
                job,
            )
        };
        *self.shared.lock() = Slot::Posted(JobPtr(job));
        self.shared.posted.notify_one();

        /// Waits for the worker if `here` unwinds.
        struct WaitOnUnwind<'a>(&'a Shared);
        impl Drop for WaitOnUnwind<'_> {
            fn drop(&mut self) {
                drop(self.0.wait_finished());
            }
        }
        let guard = WaitOnUnwind(&self.shared);
        let result = here();
        std::mem::forget(guard);
        if let Some(payload) = self.shared.wait_finished() {
            panic::resume_unwind(payload);
        }
        result
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        *self.shared.lock() = Slot::Exit;
        self.shared.posted.notify_one();
        if let Some(thread) = self.thread.take() {
            // The worker catches its jobs' panics, so it ends normally.
            let _ = thread.join();
        }
    }
}
