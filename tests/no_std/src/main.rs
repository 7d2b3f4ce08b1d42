//! The program: loads the built-in weights and classifies a few rows.
//!
//! On a bare-metal target (`target_os = "none"`) it is a `#![no_main]`
//! image with its own panic handler and a bump allocator over a static
//! array, linked by rust-lld: every symbol the forward pass needs (libm's
//! functions, the allocator, core and alloc) must resolve without std. On
//! the host it prints the probabilities.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]

use chainrule::Matrix;
use chainrule_no_std_check::{classify, forward, load};

/// A few iris-like rows.
const ROWS: [[f32; 4]; 3] = [
    [5.1, 3.5, 1.4, 0.2],
    [6.3, 3.3, 6.0, 2.5],
    [5.8, 2.7, 4.1, 1.0],
];

/// The probabilities of `ROWS` by `predict` and by `forward`, or `None`
/// when the weights do not load.
fn run() -> Option<([[f32; 3]; 3], Matrix<f32, 3, 3>)> {
    let net = load().ok()?;
    let predicted = classify(&net, &ROWS);
    let forwarded = forward(&net, &Matrix::from_rows(ROWS));
    Some(([predicted[0], predicted[1], predicted[2]], forwarded))
}

#[cfg(target_os = "none")]
mod bare_metal {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicUsize, Ordering};

    const HEAP: usize = 256 * 1024;

    /// Hands out slices of a static array and never frees: enough for one
    /// load and a few forward passes.
    struct Bump {
        heap: UnsafeCell<[u8; HEAP]>,
        next: AtomicUsize,
    }

    // SAFETY: `next` is advanced atomically, so no two allocations overlap.
    unsafe impl Sync for Bump {}

    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let base = self.heap.get() as usize;
            let mut start = 0;
            let claimed = self
                .next
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| {
                    start = (base + next).next_multiple_of(layout.align()) - base;
                    let end = start.checked_add(layout.size())?;
                    (end <= HEAP).then_some(end)
                });
            match claimed {
                Ok(_) => (base + start) as *mut u8,
                Err(_) => core::ptr::null_mut(),
            }
        }
        unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
    }

    #[global_allocator]
    static ALLOCATOR: Bump = Bump {
        heap: UnsafeCell::new([0; HEAP]),
        next: AtomicUsize::new(0),
    };

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        loop {}
    }

    /// Where the probabilities go (read by a debugger).
    static mut OUTPUT: [[f32; 3]; 3] = [[0.0; 3]; 3];

    /// The entry point.
    #[no_mangle]
    pub extern "C" fn _start() -> ! {
        if let Some((predicted, _)) = super::run() {
            // SAFETY: one thread; a volatile write keeps the result.
            unsafe { core::ptr::write_volatile(core::ptr::addr_of_mut!(OUTPUT), predicted) };
        }
        loop {}
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    match run() {
        Some((predicted, forwarded)) => {
            for (row, (p, f)) in predicted.iter().zip(forwarded.rows()).enumerate() {
                println!("row {row}: predict {p:?}, forward {f:?}");
            }
        }
        None => {
            eprintln!("the built-in weights did not load");
            std::process::exit(1);
        }
    }
}
