//! The standard `process_*` metrics Prometheus client libraries export (CPU seconds, resident
//! and virtual memory, open and maximum file descriptors, threads, start time), read from
//! Linux's `/proc/self`. On other systems, or when `/proc` cannot be read, the lines that cannot
//! be known are left out.

use std::fmt::Write as _;

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on every Linux ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// The `process_*` metrics in the text exposition format.
pub fn process_metrics() -> String {
    let mut text = String::new();
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    // Fields after the command (which may hold spaces), from field 3 (state) on.
    let fields: Vec<&str> = stat
        .as_deref()
        .and_then(|stat| stat.rsplit_once(')'))
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |number: usize| -> Option<f64> { fields.get(number.checked_sub(3)?)?.parse().ok() };
    if let (Some(user), Some(system)) = (field(14), field(15)) {
        metric(
            &mut text,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            (user + system) / TICKS_PER_SECOND,
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kilobytes = |name: &str| -> Option<f64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        line[name.len()..]
            .split_whitespace()
            .next()?
            .parse::<f64>()
            .ok()
    };
    if let Some(resident) = kilobytes("VmRSS:") {
        metric(
            &mut text,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            resident * 1024.0,
        );
    }
    if let Some(virtual_size) = kilobytes("VmSize:") {
        metric(
            &mut text,
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            virtual_size * 1024.0,
        );
    }
    if let Some(threads) = kilobytes("Threads:") {
        metric(
            &mut text,
            "process_threads",
            "gauge",
            "Number of OS threads in the process.",
            threads,
        );
    }
    if let Ok(descriptors) = std::fs::read_dir("/proc/self/fd") {
        metric(
            &mut text,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            descriptors.count() as f64,
        );
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    if let Some(maximum) = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line["Max open files".len()..].split_whitespace().next())
        .and_then(|soft| soft.parse::<f64>().ok())
    {
        metric(
            &mut text,
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            maximum,
        );
    }
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
        stat.lines()
            .find_map(|line| line.strip_prefix("btime "))
            .and_then(|seconds| seconds.trim().parse::<f64>().ok())
    });
    if let (Some(boot_time), Some(start_ticks)) = (boot_time, field(22)) {
        metric(
            &mut text,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            boot_time + start_ticks / TICKS_PER_SECOND,
        );
    }
    text
}

fn metric(text: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = writeln!(
        text,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process() {
        let text = process_metrics();
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_threads",
            "process_start_time_seconds",
        ] {
            let value: f64 = text
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
                .parse()
                .expect("a number");
            assert!(value >= 0.0, "{name} {value}");
        }
        let resident: f64 = text
            .lines()
            .find_map(|line| line.strip_prefix("process_resident_memory_bytes "))
            .and_then(|value| value.parse().ok())
            .expect("resident memory");
        assert!(
            resident > 1_000_000.0,
            "a test process holds more than 1 MB"
        );
    }
}
