//! Native (`processor!`) programs in solana-program-test lose their `sol_log_data`
//! output: program-test's syscall stubs leave it to the default, which prints to stdout,
//! so `Program data: …` lines (Anchor events) never reach the transaction log that
//! RPC clients and indexers read. On SBF the runtime writes them there.
//!
//! Use [`processor_with_events!`] instead of `processor!` and call [`install`] after
//! the first `ProgramTest::start*`: the program's log data then lands in the
//! transaction log exactly as the SBF runtime writes it.
use std::cell::RefCell;
use std::sync::{Once, OnceLock};

use solana_program::{account_info::AccountInfo, entrypoint::ProgramResult, instruction::Instruction, pubkey::Pubkey};
use solana_program_runtime::stable_log;
use solana_program_test::InvokeContext;
use solana_sysvar::program_stubs::{set_syscall_stubs, SyscallStubs};

#[doc(hidden)]
pub use solana_program_test as __program_test;

thread_local! {
    /// Invoke contexts of the native instructions running on this thread (innermost last).
    static CURRENT: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with `invoke_context` registered as the one whose log receives log data.
#[doc(hidden)]
pub fn with_invoke_context<'a, 'b, R>(
    invoke_context: &'a mut InvokeContext<'b>,
    f: impl FnOnce(&'a mut InvokeContext<'b>) -> R,
) -> R {
    CURRENT.with(|c| c.borrow_mut().push(invoke_context as *mut InvokeContext<'b> as usize));
    let result = f(invoke_context);
    CURRENT.with(|c| c.borrow_mut().pop());
    result
}

/// `processor!` that also routes the program's `sol_log_data` into the transaction log.
#[macro_export]
macro_rules! processor_with_events {
    ($builtin_function:expr) => {
        Some(|vm, _arg0, _arg1, _arg2, _arg3, _arg4| {
            use $crate::__program_test as pt;
            let vm = unsafe {
                &mut *((vm as *mut u64).offset(-(pt::get_runtime_environment_key() as isize))
                    as *mut pt::EbpfVm<pt::InvokeContext>)
            };
            vm.program_result = $crate::with_invoke_context(vm.context_object_pointer, |ic| {
                pt::invoke_builtin_function($builtin_function, ic)
            })
            .map_err(|err| pt::EbpfError::SyscallError(err))
            .into();
        })
    };
}

/// program-test's stubs, which ours wrap.
static INNER: OnceLock<Box<dyn SyscallStubs>> = OnceLock::new();

/// Wraps program-test's syscall stubs (installed by its first `start`) once per process.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let program_test_stubs = set_syscall_stubs(Box::new(LogDataStubs));
        let _ = INNER.set(program_test_stubs);
    });
}

struct LogDataStubs;

fn inner() -> &'static dyn SyscallStubs {
    INNER.wait().as_ref()
}

impl SyscallStubs for LogDataStubs {
    fn sol_log_data(&self, fields: &[&[u8]]) {
        let current = CURRENT.with(|c| c.borrow().last().copied());
        match current {
            Some(ptr) => {
                // SAFETY: the pointer is the live `&mut InvokeContext` of the native
                // instruction executing on this thread (pushed in `with_invoke_context`,
                // popped when it returns); program-test reaches it the same way.
                let invoke_context = unsafe { &mut *(ptr as *mut InvokeContext) };
                stable_log::program_data(&invoke_context.get_log_collector(), fields);
            }
            None => inner().sol_log_data(fields),
        }
    }
    fn sol_log(&self, message: &str) {
        inner().sol_log(message)
    }
    fn sol_log_compute_units(&self) {
        inner().sol_log_compute_units()
    }
    fn sol_remaining_compute_units(&self) -> u64 {
        inner().sol_remaining_compute_units()
    }
    fn sol_invoke_signed(&self, instruction: &Instruction, account_infos: &[AccountInfo], signers_seeds: &[&[&[u8]]]) -> ProgramResult {
        inner().sol_invoke_signed(instruction, account_infos, signers_seeds)
    }
    fn sol_get_sysvar(&self, sysvar_id_addr: *const u8, var_addr: *mut u8, offset: u64, length: u64) -> u64 {
        inner().sol_get_sysvar(sysvar_id_addr, var_addr, offset, length)
    }
    fn sol_get_clock_sysvar(&self, var_addr: *mut u8) -> u64 {
        inner().sol_get_clock_sysvar(var_addr)
    }
    fn sol_get_epoch_schedule_sysvar(&self, var_addr: *mut u8) -> u64 {
        inner().sol_get_epoch_schedule_sysvar(var_addr)
    }
    fn sol_get_fees_sysvar(&self, var_addr: *mut u8) -> u64 {
        inner().sol_get_fees_sysvar(var_addr)
    }
    fn sol_get_rent_sysvar(&self, var_addr: *mut u8) -> u64 {
        inner().sol_get_rent_sysvar(var_addr)
    }
    fn sol_get_epoch_rewards_sysvar(&self, var_addr: *mut u8) -> u64 {
        inner().sol_get_epoch_rewards_sysvar(var_addr)
    }
    fn sol_get_last_restart_slot(&self, var_addr: *mut u8) -> u64 {
        inner().sol_get_last_restart_slot(var_addr)
    }
    fn sol_get_epoch_stake(&self, vote_address: *const u8) -> u64 {
        inner().sol_get_epoch_stake(vote_address)
    }
    unsafe fn sol_memcpy(&self, dst: *mut u8, src: *const u8, n: usize) {
        inner().sol_memcpy(dst, src, n)
    }
    unsafe fn sol_memmove(&self, dst: *mut u8, src: *const u8, n: usize) {
        inner().sol_memmove(dst, src, n)
    }
    unsafe fn sol_memcmp(&self, s1: *const u8, s2: *const u8, n: usize, result: *mut i32) {
        inner().sol_memcmp(s1, s2, n, result)
    }
    unsafe fn sol_memset(&self, s: *mut u8, c: u8, n: usize) {
        inner().sol_memset(s, c, n)
    }
    fn sol_get_return_data(&self) -> Option<(Pubkey, Vec<u8>)> {
        inner().sol_get_return_data()
    }
    fn sol_set_return_data(&self, data: &[u8]) {
        inner().sol_set_return_data(data)
    }
    fn sol_get_processed_sibling_instruction(&self, index: usize) -> Option<Instruction> {
        inner().sol_get_processed_sibling_instruction(index)
    }
    fn sol_get_stack_height(&self) -> u64 {
        inner().sol_get_stack_height()
    }
}
