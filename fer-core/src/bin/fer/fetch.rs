//! `fer fetch`: download Kaggle's msambare/fer2013 with the user's API credentials, check that
//! the archive is FER2013 in Kaggle's layout, and unpack it atomically.
//!
//! Nothing half-written is ever left at the destination: the zip goes to a temporary file and
//! is unpacked into a temporary folder beside the destination, which is renamed into place only
//! once everything is on disk; on any error both temporaries are removed.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine;
use serde::{Deserialize, Serialize};

use fer_core::data::{DEFAULT_DATA_DIR, IMAGE_EXTENSIONS};
use fer_core::Emotion;

use crate::out_dir::OutputDir;
use crate::progress::{Bytes, Step};

/// Kaggle's API path of the data set's download (relative to `--base-url`).
pub const DOWNLOAD_PATH: &str = "/api/v1/datasets/download/msambare/fer2013";
/// Kaggle's site; its API answers the download with a redirect to the file's storage.
pub const DEFAULT_BASE_URL: &str = "https://www.kaggle.com";
/// The two folders of Kaggle's layout, each holding one folder per emotion.
const PARTS: [&str; 2] = ["train", "test"];

/// Arguments of `fer fetch`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Credentials, as Kaggle's own client reads them: KAGGLE_USERNAME and \
    KAGGLE_KEY, else kaggle.json in $KAGGLE_CONFIG_DIR or ~/.kaggle ({\"username\": ..., \"key\": \
    ...}). Get one on kaggle.com: Settings, API, Create New Token. The download is about 60 MB; \
    the data set's terms are on its Kaggle page (msambare/fer2013)."
)]
pub struct Args {
    /// Folder to unpack into (it gets train/ and test/). Default: data/fer2013.
    #[arg(long, value_name = "DIR")]
    dest: Option<PathBuf>,
    /// Base address of Kaggle's API (for mirrors and tests).
    #[arg(long, value_name = "URL", default_value = DEFAULT_BASE_URL)]
    base_url: String,
    /// Replace the destination if it already exists (only once the new copy is complete).
    #[arg(long)]
    force: bool,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
}

/// Kaggle API credentials and where they came from (for error messages).
struct Credentials {
    username: String,
    key: String,
    source: String,
}

/// The content of kaggle.json.
#[derive(Deserialize)]
struct KaggleJson {
    username: String,
    key: String,
}

/// What `fer fetch --json` prints.
#[derive(Debug, Serialize)]
struct Summary {
    dest: PathBuf,
    downloaded_bytes: u64,
    train_images: usize,
    test_images: usize,
}

/// Downloads, checks and unpacks.
pub fn run(args: Args) -> anyhow::Result<()> {
    let dest = args
        .dest
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    // Refuse before any download: fetching 60 MB to then refuse would waste the user's time.
    if dest.exists() && !args.force {
        bail!(
            "--dest {}: already exists; remove it or pass --force to replace it",
            dest.display()
        );
    }
    let credentials = credentials()?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Created parent folders are removed again if the fetch fails.
    let parent_dir = OutputDir::create(&parent, "--dest")?;

    let url = format!("{}{DOWNLOAD_PATH}", args.base_url.trim_end_matches('/'));
    let mut archive = tempfile::Builder::new()
        .prefix(".fer2013-download-")
        .suffix(".zip")
        .tempfile_in(&parent)
        .with_context(|| format!("--dest {}: cannot write in this folder", parent.display()))?;
    let downloaded_bytes = download(&url, &credentials, archive.as_file_mut())?;

    let step = Step::start("checking the archive");
    let mut zip = zip::ZipArchive::new(archive.as_file_mut()).map_err(|e| {
        anyhow::anyhow!(
            "{url}: the download ({downloaded_bytes} bytes) is not a zip archive ({e}); \
             expected Kaggle's FER2013 zip"
        )
    })?;
    let layout = check_layout(&zip, &url)?;
    step.finish();

    let step = Step::start(format!("unpacking into {}", dest.display()));
    let staging = tempfile::Builder::new()
        .prefix(".fer2013-unpack-")
        .tempdir_in(&parent)
        .with_context(|| format!("--dest {}: cannot write in this folder", parent.display()))?;
    unpack(&mut zip, &layout.prefix, staging.path())?;
    place(staging, &dest)?;
    step.finish();
    parent_dir.keep();

    let summary = Summary {
        dest: dest.clone(),
        downloaded_bytes,
        train_images: layout.counts[0],
        test_images: layout.counts[1],
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "FER2013 in {}: {} training and {} test images ({:.1} MB downloaded)",
            dest.display(),
            summary.train_images,
            summary.test_images,
            downloaded_bytes as f64 / 1e6
        )?;
        writeln!(out, "next: fer stats --data {}", dest.display())?;
    }
    Ok(())
}

/// Reads the credentials as Kaggle's client does: the environment first, then kaggle.json.
fn credentials() -> anyhow::Result<Credentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var("KAGGLE_USERNAME"), var("KAGGLE_KEY")) {
        (Some(username), Some(key)) => {
            return Ok(Credentials {
                username,
                key,
                source: "KAGGLE_USERNAME and KAGGLE_KEY".into(),
            })
        }
        (Some(_), None) => bail!("KAGGLE_USERNAME is set but KAGGLE_KEY is not: set both"),
        (None, Some(_)) => bail!("KAGGLE_KEY is set but KAGGLE_USERNAME is not: set both"),
        (None, None) => {}
    }
    let dir = match var("KAGGLE_CONFIG_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => dirs::home_dir()
            .context(
                "no Kaggle credentials: KAGGLE_USERNAME and KAGGLE_KEY are not set and there \
                 is no home folder to find .kaggle/kaggle.json in",
            )?
            .join(".kaggle"),
    };
    let path = dir.join("kaggle.json");
    if !path.is_file() {
        bail!(
            "no Kaggle credentials: KAGGLE_USERNAME and KAGGLE_KEY are not set and {} does not \
             exist (get one on kaggle.com: Settings, API, Create New Token)",
            path.display()
        );
    }
    let parsed: KaggleJson = fer_core::fs::read_json(&path).with_context(|| {
        format!(
            "{}: expected {{\"username\": \"...\", \"key\": \"...\"}}",
            path.display()
        )
    })?;
    Ok(Credentials {
        username: parsed.username,
        key: parsed.key,
        source: path.display().to_string(),
    })
}

/// Streams the archive at `url` into `file` with HTTP basic auth, showing progress; returns
/// its size. HTTP errors become messages that say what to do.
fn download(url: &str, credentials: &Credentials, file: &mut File) -> anyhow::Result<u64> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .build()
        .into();
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", credentials.username, credentials.key));
    eprintln!("downloading {url} as Kaggle user {}", credentials.username);
    let response = agent
        .get(url)
        .header("Authorization", &format!("Basic {token}"))
        .call()
        .map_err(|e| anyhow::anyhow!("cannot reach {url}: {e}"))?;
    let status = response.status();
    match status.as_u16() {
        200 => {}
        401 => bail!(
            "{url}: HTTP 401 Unauthorized: Kaggle refused the credentials of user `{}` (from \
             {}); check the username and key, or make a new token on kaggle.com (Settings, \
             API, Create New Token)",
            credentials.username,
            credentials.source
        ),
        403 => bail!(
            "{url}: HTTP 403 Forbidden: user `{}` may not download this data set; open its \
             page on kaggle.com (msambare/fer2013) and accept its terms",
            credentials.username
        ),
        404 => bail!("{url}: HTTP 404 Not Found: no such data set at this address"),
        code => bail!(
            "{url}: the server answered HTTP {code} {}; nothing was written, try again later",
            status.canonical_reason().unwrap_or("")
        ),
    }
    let mut body = response.into_body();
    let mut progress = Bytes::start(body.content_length());
    let mut reader = body.as_reader();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buffer)
            .with_context(|| format!("{url}: the download broke off"))?;
        if n == 0 {
            break;
        }
        file.write_all(&buffer[..n])
            .context("writing the downloaded archive")?;
        progress.add(n as u64);
    }
    file.flush()?;
    file.rewind()?;
    let bytes = progress.finish();
    eprintln!("downloaded {:.1} MB", bytes as f64 / 1e6);
    Ok(bytes)
}

/// Where FER2013 sits in the archive and how many images each part holds.
struct Layout {
    /// "" if train/ and test/ are at the top, else their one enclosing folder with a slash.
    prefix: String,
    /// Images in train/ and test/.
    counts: [usize; 2],
}

/// Checks that the archive holds train/ and test/, each with an image in all seven emotion
/// folders (at the top, or inside one folder), and nothing that would unpack outside the
/// destination.
fn check_layout<R: Read + Seek>(zip: &zip::ZipArchive<R>, url: &str) -> anyhow::Result<Layout> {
    let names: Vec<&str> = zip.file_names().collect();
    if let Some(bad) = names.iter().find(|n| !is_safe(n)) {
        bail!("{url}: the archive holds an unsafe path {bad:?}; refusing to unpack it");
    }
    let prefix = if names.iter().any(|n| n.starts_with("train/")) {
        String::new()
    } else {
        // One enclosing folder, as some re-packed copies have.
        names
            .iter()
            .filter_map(|n| n.split_once('/').map(|(top, _)| top))
            .find(|top| {
                names
                    .iter()
                    .any(|n| n.starts_with(&format!("{top}/train/")))
            })
            .map(|top| format!("{top}/"))
            .unwrap_or_default()
    };
    let mut counts = [0usize; 2];
    let mut missing = Vec::new();
    for (part, count) in PARTS.iter().zip(&mut counts) {
        for emotion in Emotion::ALL {
            let folder = format!("{prefix}{part}/{}/", emotion.name());
            let images = names
                .iter()
                .filter(|n| n.starts_with(&folder) && is_image(n))
                .count();
            if images == 0 {
                missing.push(format!("{part}/{}", emotion.name()));
            }
            *count += images;
        }
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(6).map(String::as_str).collect();
        bail!(
            "{url}: the archive is not FER2013 in Kaggle's layout: expected train/ and test/ \
             each with images in the folders {}; missing or empty: {}{}",
            Emotion::ALL.map(|e| e.name()).join(", "),
            shown.join(", "),
            if missing.len() > shown.len() {
                format!(" and {} more", missing.len() - shown.len())
            } else {
                String::new()
            }
        );
    }
    Ok(Layout { prefix, counts })
}

/// A relative path with no `..`, no root and no drive: it stays inside the destination.
fn is_safe(name: &str) -> bool {
    let path = Path::new(name);
    !name.contains('\\')
        && path.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

fn is_image(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Unpacks the train/ and test/ entries under `prefix` into `into` (other entries, such as
/// macOS metadata folders, are skipped).
fn unpack<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    prefix: &str,
    into: &Path,
) -> anyhow::Result<()> {
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).context("reading the archive")?;
        let name = entry.name().to_string();
        let Some(relative) = name.strip_prefix(prefix) else {
            continue;
        };
        if !PARTS.iter().any(|p| relative.starts_with(&format!("{p}/"))) {
            continue;
        }
        // check_layout refused unsafe names; checked again here, and as zip defines it
        // (enclosed_name alone lets `train/../x` out of train/, though not out of `into`).
        if !is_safe(&name) || entry.enclosed_name().is_none() {
            bail!("the archive holds an unsafe path {name:?}");
        }
        let target = into.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target)
                .with_context(|| format!("creating {}", target.display()))?;
            continue;
        }
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut file =
            File::create(&target).with_context(|| format!("creating {}", target.display()))?;
        std::io::copy(&mut entry, &mut file)
            .with_context(|| format!("unpacking {name} from the archive"))?;
    }
    Ok(())
}

/// Renames the unpacked folder to `dest`. An existing `dest` (with `--force`) is first moved
/// aside and deleted only once the new copy is in place, so an error keeps the old copy.
fn place(staging: tempfile::TempDir, dest: &Path) -> anyhow::Result<()> {
    let old = if dest.exists() {
        let aside = dest.with_file_name(format!(
            ".{}.old-{}",
            dest.file_name()
                .map_or("fer2013".into(), |n| n.to_string_lossy()),
            std::process::id()
        ));
        std::fs::rename(dest, &aside)
            .with_context(|| format!("moving the old {} aside", dest.display()))?;
        Some(aside)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(staging.path(), dest) {
        if let Some(aside) = &old {
            let _ = std::fs::rename(aside, dest);
        }
        return Err(e).with_context(|| format!("moving the unpacked data to {}", dest.display()));
    }
    // The folder now lives at dest; keep() stops TempDir from deleting it.
    let _ = staging.keep();
    if let Some(aside) = old {
        std::fs::remove_dir_all(&aside)
            .with_context(|| format!("removing the old copy {}", aside.display()))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "fetch_fuzz.rs"]
mod fetch_fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use zip::write::SimpleFileOptions;

    fn archive(names: &[&str]) -> zip::ZipArchive<Cursor<Vec<u8>>> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for name in names {
            zip.start_file(*name, SimpleFileOptions::default()).unwrap();
            zip.write_all(b"x").unwrap();
        }
        zip::ZipArchive::new(zip.finish().unwrap()).unwrap()
    }

    fn kaggle_names(prefix: &str) -> Vec<String> {
        let mut names = Vec::new();
        for part in PARTS {
            for e in Emotion::ALL {
                names.push(format!("{prefix}{part}/{}/im0.png", e.name()));
                names.push(format!("{prefix}{part}/{}/im1.JPG", e.name()));
            }
        }
        names
    }

    #[test]
    fn paths_that_would_leave_the_destination_are_unsafe() {
        for bad in [
            "../evil.png",
            "train/../../x",
            "/etc/passwd",
            "train\\..\\x",
        ] {
            assert!(!is_safe(bad), "{bad}");
        }
        for good in ["train/happy/a.png", "./test/sad/b.jpg", "fer2013/train/"] {
            assert!(is_safe(good), "{good}");
        }
        let mut names = kaggle_names("");
        names.push("../escape.png".into());
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let err = check_layout(&archive(&refs), "u")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("unsafe path") && err.contains("escape.png"),
            "{err}"
        );
    }

    #[test]
    fn the_layout_is_found_at_the_top_or_in_one_folder_and_counted() {
        for prefix in ["", "fer2013/"] {
            let mut names = kaggle_names(prefix);
            // Not images, or outside train/ and test/: not counted.
            names.push(format!("{prefix}train/happy/notes.txt"));
            names.push("__MACOSX/train/happy/._im0.png".into());
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let layout = check_layout(&archive(&refs), "u").unwrap();
            assert_eq!(layout.prefix, prefix);
            // 2 images in each of 7 emotion folders per part.
            assert_eq!(layout.counts, [14, 14]);
        }
        let names: Vec<String> = kaggle_names("")
            .into_iter()
            .filter(|n| !n.starts_with("test/neutral/"))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let err = check_layout(&archive(&refs), "u")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("missing or empty: test/neutral"), "{err}");
    }
}
