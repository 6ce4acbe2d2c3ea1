//! The crash-torture harness behind `fortimock-torture`: the `fortimock up` process it kills and reopens
//! (`suite_process`), the public HTTP APIs it writes through (`suite_api`), the mixed write load
//! (`write_load`), the ledger of acknowledged writes and the check after each reopen (`acknowledged`), the
//! exactly-once race (`exactly_once`), the fuzz runs of long mode (`fuzz_runs`), and the figures and report
//! (`tally`).
// A command-line tool: the lines it prints (failed reopens, race rounds, fuzz runs) are its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod acknowledged;
pub mod exactly_once;
pub mod fuzz_runs;
pub mod suite_api;
pub mod suite_process;
pub mod tally;
pub mod write_load;
