//! The machine the bench runs on (CPU model, the CPUs this process may use, kernel, memory, load average)
//! and how it keeps the server and the load apart: each server pinned to one CPU with `taskset`, the bench
//! itself to another; when there is one CPU or no `taskset`, nothing is pinned and the report says so.

use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde::Serialize;

/// What the report says about the machine.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    pub(crate) cpu_model: String,
    /// The CPUs this process may run on, as the kernel lists them (`0-1`).
    pub(crate) cpus_allowed: String,
    pub(crate) cpu_count: usize,
    pub(crate) kernel: String,
    pub(crate) memory_mib: u64,
    /// 1, 5 and 15-minute load averages when the bench started.
    pub(crate) load_at_start: [f64; 3],
}

impl Machine {
    pub(crate) fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map(|(_, model)| model.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let cpus_allowed = proc_status_field("Cpus_allowed_list").unwrap_or_default();
        let cpu_count = parse_cpu_list(&cpus_allowed).len().max(1);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| format!("Linux {}", s.trim()))
            .unwrap_or_else(|_| std::env::consts::OS.to_owned());
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            })
            .map_or(0, |kib| kib / 1024);
        Machine {
            cpu_model,
            cpus_allowed,
            cpu_count,
            kernel,
            memory_mib,
            load_at_start: load_average(),
        }
    }
}

/// The 1, 5 and 15-minute load averages (zeros where /proc does not say).
pub(crate) fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut values = text.split_whitespace().map(|v| v.parse().unwrap_or(0.0));
    [(); 3].map(|()| values.next().unwrap_or(0.0))
}

/// A field of /proc/self/status.
fn proc_status_field(name: &str) -> Option<String> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| Some(l.strip_prefix(name)?.strip_prefix(':')?.trim().to_owned()))
}

/// The CPUs of a kernel CPU list (`0-3,8,10-11`), in order; nothing for what does not parse.
pub(crate) fn parse_cpu_list(list: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let range = match part.split_once('-') {
            Some((from, to)) => from.parse::<usize>().ok().zip(to.parse::<usize>().ok()),
            None => part.parse::<usize>().ok().map(|cpu| (cpu, cpu)),
        };
        match range {
            Some((from, to)) if from <= to => cpus.extend(from..=to),
            _ => return Vec::new(),
        }
    }
    cpus
}

/// Where servers and the load generator run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Pinning {
    /// The CPU every server under load is pinned to.
    pub(crate) server_cpu: Option<usize>,
    /// The CPU the bench (the load generator) is pinned to.
    pub(crate) generator_cpu: Option<usize>,
    /// Why nothing is pinned, when it is not.
    pub(crate) not_pinned_because: Option<String>,
}

impl Pinning {
    /// Two CPUs apart when this process may use two and `taskset` is there.
    pub(crate) fn detect() -> Pinning {
        let allowed = parse_cpu_list(&proc_status_field("Cpus_allowed_list").unwrap_or_default());
        let why_not = if allowed.len() < 2 {
            Some(format!(
                "this process may use {} CPU: server and load share it",
                allowed.len().max(1)
            ))
        } else if !taskset_works() {
            Some("no `taskset` (util-linux): servers and load are not pinned".to_owned())
        } else {
            None
        };
        match why_not {
            Some(reason) => Pinning {
                server_cpu: None,
                generator_cpu: None,
                not_pinned_because: Some(reason),
            },
            None => Pinning {
                server_cpu: allowed.first().copied(),
                generator_cpu: allowed.get(1).copied(),
                not_pinned_because: None,
            },
        }
    }

    /// A command that runs `program` on the server's CPU (through `taskset`, which execs it: same pid).
    pub(crate) fn server_command(&self, program: &std::path::Path) -> Command {
        match self.server_cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpu.to_string()).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// Moves every thread of this process (and so everything it starts later without `taskset`) to the
    /// generator's CPU. `taskset -a` lists the threads and then moves each: a thread that ends in between
    /// (the start phase's helpers wind down at about this time) fails it, so it is tried again a few times
    /// on the threads there are then.
    pub(crate) fn pin_self(&self) -> anyhow::Result<()> {
        const ATTEMPTS: usize = 10;
        let Some(cpu) = self.generator_cpu else {
            return Ok(());
        };
        let mut refusal = String::new();
        for attempt in 1..=ATTEMPTS {
            let output = Command::new("taskset")
                .args([
                    "-a",
                    "-p",
                    "-c",
                    &cpu.to_string(),
                    &std::process::id().to_string(),
                ])
                .stdin(Stdio::null())
                .output()
                .context("running taskset")?;
            if output.status.success() {
                return Ok(());
            }
            refusal = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            if attempt < ATTEMPTS {
                super::process::wait_a_little();
            }
        }
        bail!("`taskset -a -p -c {cpu}` on the bench failed {ATTEMPTS} times, last: {refusal}")
    }

    /// One line for the report.
    pub(crate) fn describe(&self) -> String {
        match (
            self.server_cpu,
            self.generator_cpu,
            &self.not_pinned_because,
        ) {
            (Some(server), Some(generator), _) => format!(
                "servers pinned to CPU {server} (taskset -c {server}), the load generator to CPU {generator}"
            ),
            (_, _, Some(reason)) => reason.clone(),
            _ => "not pinned".to_owned(),
        }
    }
}

fn taskset_works() -> bool {
    Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_read_as_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("0-1"), vec![0, 1]);
        assert_eq!(parse_cpu_list("0"), vec![0]);
        assert_eq!(parse_cpu_list("0-2,8,10-11\n"), vec![0, 1, 2, 8, 10, 11]);
        assert_eq!(parse_cpu_list(""), Vec::<usize>::new());
        assert_eq!(parse_cpu_list("3-1"), Vec::<usize>::new());
        assert_eq!(parse_cpu_list("x"), Vec::<usize>::new());
    }
}
