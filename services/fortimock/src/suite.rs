//! The suite `fortimock up` runs: every service in one process. The code lives in `fortimock-testing`
//! (`services`), which Rust test suites start in-process; these are its names as the CLI uses them.

pub use fortimock_testing::services::{
    FREE_PORT_ARGS, ForticareOptions, PortOptions, Services as Suite, SuiteUrls, write_urls,
};
