//! Loading all of FER2013 (`FER2013_DIR`): from its 35,887 JPEGs on every core, on one core for
//! comparison, from `fer2013.csv`, and from the decoded-data cache; and the memory the decoded
//! set holds. Prints one JSON object.
//!
//! `FER2013_DIR=../shared/fer2013 cargo bench -p fer-core --bench load`
//!
//! Targets (issue 2): folder load <= 1.5 s on both cores, cache load <= 0.2 s, decoded set
//! < 100 MB. Timings on a shared machine are noisy: each figure is the best of several runs,
//! printed with the median and the load average at the start.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fer_core::data::{self, Cache, CacheStatus, Fer2013};
use fer_core::{Dataset, Origin};
use serde_json::json;

fn main() {
    let dir = match std::env::var_os("FER2013_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            eprintln!("error: set FER2013_DIR to the FER2013 folder (see data/README.md)");
            std::process::exit(1);
        }
    };
    let load_average = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    // `folder-only` or `cache-only` (after cargo's `--bench`) times one kind of load alone, for
    // profiling.
    if std::env::args().any(|a| a == "folder-only") {
        let (_, times) = time_runs(5, || data::load_uncached(&dir));
        println!(
            "{}",
            json!({"folder_uncached_s": summary(&times), "load_average_at_start": load_average.trim()})
        );
        return;
    }
    if std::env::args().any(|a| a == "cache-only") {
        let cache_dir = tempfile::tempdir().expect("a temporary cache folder");
        let cache = Cache::new(cache_dir.path());
        data::load_with_cache(&dir, Some(&cache)).expect("the first cached load");
        let (_, times) = time_runs(20, || {
            data::load_with_cache(&dir, Some(&cache)).map(|r| r.0)
        });
        println!(
            "{}",
            json!({"cache_hit_s": summary(&times), "load_average_at_start": load_average.trim()})
        );
        return;
    }
    let rss_before = rss_bytes();

    let (fer, folder_times) = time_runs(5, || data::load_uncached(&dir));
    let rss_held = rss_bytes().saturating_sub(rss_before);
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let (_, one_core_times) = time_runs(2, || one_core.install(|| data::load_uncached(&dir)));

    let cache_dir = tempfile::tempdir().expect("a temporary cache folder");
    let cache = Cache::new(cache_dir.path());
    let (_, status) = data::load_with_cache(&dir, Some(&cache)).expect("the first cached load");
    assert!(matches!(status, CacheStatus::Written(_)), "{status:?}");
    let (cached, cache_times) = time_runs(10, || {
        let (data, status) = data::load_with_cache(&dir, Some(&cache))?;
        assert!(matches!(status, CacheStatus::Hit(_)), "{status:?}");
        Ok(data)
    });
    assert!(cached == fer, "the cache gives back what was decoded");
    let cache_file_bytes = std::fs::metadata(cache.file_for(&dir)).map_or(0, |m| m.len());

    let csv_dir = tempfile::tempdir().expect("a temporary folder");
    let csv = csv_dir.path().join("fer2013.csv");
    data::write_csv(&csv, &[&fer.train, &fer.kaggle_test]).expect("writing the CSV");
    let (_, csv_times) = time_runs(3, || data::load_uncached(&csv));

    let report = json!({
        "data": dir,
        "faces": fer.train.len() + fer.kaggle_test.len(),
        "threads": rayon::current_num_threads(),
        "load_average_at_start": load_average.split_whitespace().take(3).collect::<Vec<_>>(),
        "folder_uncached_s": summary(&folder_times),
        "folder_uncached_one_core_s": summary(&one_core_times),
        "csv_uncached_s": summary(&csv_times),
        "cache_hit_s": summary(&cache_times),
        "cache_file_bytes": cache_file_bytes,
        "decoded_heap_bytes": heap_bytes(&fer),
        "rss_growth_bytes_holding_the_set": rss_held,
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("JSON"));
}

/// Wall and CPU (user + system, all threads) time of one run.
struct Timing {
    wall: Duration,
    cpu: f64,
}

/// Runs `load` `runs` times; returns the last result and each run's times.
fn time_runs(
    runs: usize,
    mut load: impl FnMut() -> fer_core::Result<Fer2013>,
) -> (Fer2013, Vec<Timing>) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        // Drop the previous set first so runs do not compete for memory.
        drop(last.take());
        let cpu_start = cpu_seconds();
        let start = Instant::now();
        let data = load().unwrap_or_else(|err| panic!("loading failed: {err}"));
        times.push(Timing {
            wall: start.elapsed(),
            cpu: cpu_seconds() - cpu_start,
        });
        last = Some(data);
    }
    (last.expect("at least one run"), times)
}

/// Best and median wall time, and the CPU time of the best run: on a machine shared with other
/// work, CPU time / cores is what the wall time would be with the cores to ourselves.
fn summary(times: &[Timing]) -> serde_json::Value {
    let mut sorted: Vec<&Timing> = times.iter().collect();
    sorted.sort_by_key(|t| t.wall);
    json!({
        "best": sorted[0].wall.as_secs_f64(),
        "median": sorted[sorted.len() / 2].wall.as_secs_f64(),
        "cpu_of_best": sorted[0].cpu,
        "min_cpu": times.iter().map(|t| t.cpu).fold(f64::INFINITY, f64::min),
        "runs": times.len(),
    })
}

/// User + system CPU seconds of this process so far (Linux, from /proc/self/stat in clock ticks
/// of 10 ms); 0 elsewhere.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Bytes the decoded set owns on the heap: pixels, labels, usages and origins with their paths.
fn heap_bytes(fer: &Fer2013) -> usize {
    let part = |d: &Dataset| {
        let paths: usize = d
            .origins()
            .iter()
            .map(|o| match o {
                Origin::File(p) => p.as_os_str().len(),
                Origin::CsvLine(_) => 0,
            })
            .sum();
        d.pixels().len()
            + std::mem::size_of_val(d.labels())
            + std::mem::size_of_val(d.usages())
            + std::mem::size_of_val(d.origins())
            + paths
    };
    part(&fer.train) + part(&fer.kaggle_test)
}

/// The process's resident set size (Linux), 0 elsewhere.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string(Path::new("/proc/self/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}
