//! Batches that survive their worst file: `aiop convert DIR` hands each model to a worker
//! process (this same binary, `--worker`), one request line in, one result line out. If a
//! worker dies on a file — an abort, a signal, the memory limit — that file alone is reported
//! as failed, the temporary file it was writing is removed, and a fresh worker takes the rest.
//! Workers run under a data-segment limit (`AIOP_WORKER_MEMORY` bytes, default 8 GiB) so that
//! a file that slips past every budget still cannot take the machine's memory.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Mutex;

/// Default limit of a worker's data segment (heap and anonymous mappings).
const DEFAULT_MEMORY: u64 = 8 << 30;

/// The worker memory limit: `AIOP_WORKER_MEMORY` (bytes) or [`DEFAULT_MEMORY`].
pub fn memory_limit() -> u64 {
    std::env::var("AIOP_WORKER_MEMORY")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MEMORY)
}

/// A running worker and its pipes.
struct Worker {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Worker {
    fn spawn(args: &[OsString], memory: u64) -> std::io::Result<Worker> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        limit_memory(&mut command, memory);
        let mut child = command.spawn()?;
        let input = child.stdin.take().expect("piped");
        let output = BufReader::new(child.stdout.take().expect("piped"));
        Ok(Worker {
            child,
            input,
            output,
        })
    }

    /// Sends one request and reads its one-line answer; `None` when the worker died.
    fn ask(&mut self, request: &str) -> Option<String> {
        writeln!(self.input, "{request}").ok()?;
        self.input.flush().ok()?;
        let mut line = String::new();
        match self.output.read_line(&mut line) {
            Ok(n) if n > 0 && line.ends_with('\n') => Some(line),
            _ => None,
        }
    }
}

#[cfg(unix)]
fn limit_memory(command: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            // a failure leaves the worker unlimited, as on other systems
            let _ = libc::setrlimit(libc::RLIMIT_DATA, &limit);
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn limit_memory(_: &mut Command, _: u64) {}

/// How a worker ended, in words.
fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(signal) = s.signal() {
                    return format!("killed by signal {signal}");
                }
            }
            match s.code() {
                Some(code) => format!("exited with status {code}"),
                None => "ended".into(),
            }
        }
        Err(e) => format!("lost ({e})"),
    }
}

/// Runs every request through up to `workers` worker processes started as `aiop <args>`,
/// `memory` bytes each. Returns, per request in order, the worker's answer line or why the
/// worker died on it. `done` sees each result as it arrives (from the workers' threads).
pub fn run(
    args: &[OsString],
    requests: &[String],
    workers: usize,
    memory: u64,
    done: impl Fn(usize, &Result<String, String>) + Sync,
) -> Vec<Result<String, String>> {
    let queue = Mutex::new((0..requests.len()).collect::<VecDeque<usize>>());
    let results: Mutex<Vec<Option<Result<String, String>>>> =
        Mutex::new(vec![None; requests.len()]);
    let next = || queue.lock().expect("queue").pop_front();
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, requests.len().max(1)) {
            scope.spawn(|| {
                let mut worker: Option<Worker> = None;
                while let Some(i) = next() {
                    if worker.is_none() {
                        match Worker::spawn(args, memory) {
                            Ok(w) => worker = Some(w),
                            Err(e) => {
                                let result = Err(format!("cannot start a worker: {e}"));
                                done(i, &result);
                                results.lock().expect("results")[i] = Some(result);
                                continue;
                            }
                        }
                    }
                    let w = worker.as_mut().expect("started");
                    let result = match w.ask(&requests[i]) {
                        Some(line) => Ok(line),
                        None => {
                            let mut dead = worker.take().expect("started");
                            drop(dead.input);
                            Err(describe(dead.child.wait()))
                        }
                    };
                    done(i, &result);
                    results.lock().expect("results")[i] = Some(result);
                }
                if let Some(w) = worker {
                    drop(w.input); // end of input: the worker exits
                    let mut child = w.child;
                    let _ = child.wait();
                }
            });
        }
    });
    results
        .into_inner()
        .expect("results")
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not run".into())))
        .collect()
}
