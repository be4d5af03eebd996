//! `fer fetch` against a local HTTP server on 127.0.0.1 standing in for Kaggle's API: a good
//! download unpacks into a loadable data set; wrong credentials, a server error, an archive
//! that is not FER2013 and an unreachable server are clear errors that leave nothing behind.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use fer_core::{Emotion, Usage};
use image::GrayImage;
use zip::write::SimpleFileOptions;

use super::common::{assert_fails_with, entries, fer_with_env, json_of, path_str};

/// The path `fer fetch` asks for (Kaggle's API).
const DOWNLOAD_PATH: &str = "/api/v1/datasets/download/msambare/fer2013";
const USER: &str = "alice";
const KEY: &str = "s3cret";

/// What the server answers to a request.
#[derive(Clone)]
enum Answer {
    /// The zip, if the request carries USER:KEY as basic auth; else 401.
    Archive(Vec<u8>),
    /// As Kaggle does: with the right credentials, a redirect to the file's storage
    /// (`STORAGE_PATH` on the same server), which serves the zip only to a request without
    /// the Kaggle credentials (they must not leak to another host).
    Redirect(Vec<u8>),
    /// This status with a short body.
    Status(u16),
    /// The zip's full Content-Length, then only its first half before the connection closes.
    Truncated(Vec<u8>),
}

/// Where [`Answer::Redirect`] sends the client.
const STORAGE_PATH: &str = "/storage/fer2013.zip";

/// A one-thread HTTP/1.1 server on 127.0.0.1 that answers every request with `answer` and
/// records the request lines. It stops when dropped, and after at most 20 connections in any
/// case, so a broken test cannot leave it serving.
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(answer: Answer) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopped) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming().take(20) {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    serve(stream, &answer, &log);
                }
            }
        });
        Server {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, answer: &Answer, log: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() || request_line.is_empty() {
        return;
    }
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    log.lock().unwrap().push(request_line.trim().to_string());
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{KEY}"))
    );
    let is_get = |path: &str| request_line.starts_with(&format!("GET {path} "));
    let authorized = authorization.as_deref() == Some(expected.as_str());
    let mut location = None;
    let (status, body): (u16, Vec<u8>) = match answer {
        Answer::Redirect(zip) if is_get(STORAGE_PATH) => match authorization {
            None => (200, zip.clone()),
            Some(_) => (400, b"credentials sent to storage".to_vec()),
        },
        _ if !is_get(DOWNLOAD_PATH) => (404, b"not found".to_vec()),
        Answer::Archive(_) | Answer::Redirect(_) if !authorized => (
            401,
            b"{\"code\":401,\"message\":\"Unauthenticated\"}".to_vec(),
        ),
        Answer::Archive(zip) => (200, zip.clone()),
        Answer::Redirect(_) => {
            let port = stream.local_addr().unwrap().port();
            location = Some(format!("http://127.0.0.1:{port}{STORAGE_PATH}"));
            (302, Vec::new())
        }
        Answer::Status(code) => (*code, b"server trouble".to_vec()),
        Answer::Truncated(zip) => (200, zip.clone()),
    };
    let reason = match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let mut stream = &stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: \
         application/zip\r\nConnection: close\r\n{}\r\n",
        body.len(),
        location.map_or(String::new(), |l| format!("Location: {l}\r\n"))
    );
    let sent = match answer {
        Answer::Truncated(_) => &body[..body.len() / 2],
        _ => &body[..],
    };
    let _ = stream.write_all(sent);
    let _ = stream.flush();
}

/// A zip in Kaggle's layout: `per_class` PNG faces in train/<emotion>/ and as many in
/// test/<emotion>/ (PublicTest and PrivateTest names alternating) for each emotion in
/// `emotions`, under `prefix`.
fn fer_zip(prefix: &str, emotions: &[Emotion], per_class: usize) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for part in ["train", "test"] {
        for emotion in emotions {
            zip.add_directory(format!("{prefix}{part}/{}/", emotion.name()), options)
                .unwrap();
            for i in 0..per_class {
                let usage = match (part, i % 2) {
                    ("train", _) => Usage::Training,
                    (_, 0) => Usage::PublicTest,
                    _ => Usage::PrivateTest,
                };
                let face = GrayImage::from_fn(48, 48, |x, y| {
                    image::Luma([((x * 5 + y * 3) as usize + emotion.index() * 20 + i) as u8])
                });
                let mut png = Vec::new();
                face.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                    .unwrap();
                zip.start_file(
                    format!("{prefix}{part}/{}/{}_{i}.png", emotion.name(), usage.name()),
                    options,
                )
                .unwrap();
                zip.write_all(&png).unwrap();
            }
        }
    }
    zip.finish().unwrap().into_inner()
}

/// Runs `fer fetch --dest <dest> --base-url <url> ...` with credentials from the environment
/// (`Some`) or none at all, and `HOME` pointed at `home` so the user's real kaggle.json is
/// never read.
fn fetch(
    home: &Path,
    dest: &Path,
    url: &str,
    credentials: Option<(&str, &str)>,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec!["fetch", "--dest", path_str(dest), "--base-url", url];
    args.extend_from_slice(extra);
    let (user, key) = match credentials {
        Some((u, k)) => (Some(u), Some(k)),
        None => (None, None),
    };
    fer_with_env(
        &home.join("cache"),
        &args,
        &[
            ("HOME", Some(path_str(home))),
            ("KAGGLE_CONFIG_DIR", None),
            ("KAGGLE_USERNAME", user),
            ("KAGGLE_KEY", key),
        ],
    )
}

#[test]
fn fetch_downloads_checks_and_unpacks_a_loadable_data_set() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(Answer::Archive(fer_zip("", &Emotion::ALL, 2)));
    let dest = tmp.path().join("data/fer2013");
    let summary = json_of(&fetch(
        tmp.path(),
        &dest,
        &server.url(),
        Some((USER, KEY)),
        &["--json"],
    ));
    // 2 faces per emotion in each part (see fer_zip).
    assert_eq!(summary["train_images"], 14);
    assert_eq!(summary["test_images"], 14);
    assert_eq!(
        server.requests(),
        vec![format!("GET {DOWNLOAD_PATH} HTTP/1.1")]
    );
    // Only the data set is left beside it: no temporary download or unpack folder.
    assert_eq!(entries(&tmp.path().join("data")), vec!["fer2013"]);
    assert_eq!(entries(&dest), vec!["test", "train"]);

    // The unpacked copy is what the loader reads: 14 training faces, 7 + 7 test faces.
    let fer2013 = fer_core::data::load_uncached(&dest).unwrap();
    assert_eq!(fer2013.train.len(), 14);
    assert_eq!(fer2013.kaggle_test.with_usage(Usage::PrivateTest).len(), 7);
    assert_eq!(fer2013.train.class_counts(), [2; 7]);

    // An existing destination is refused without --force, before any download.
    let again = fetch(tmp.path(), &dest, &server.url(), Some((USER, KEY)), &[]);
    assert_fails_with(&again, &["already exists", "--force"]);
    assert_eq!(server.requests().len(), 1);

    // With --force, and credentials from ~/.kaggle/kaggle.json instead of the environment,
    // an archive with one enclosing folder, behind Kaggle's redirect to storage, replaces the
    // old copy.
    drop(server);
    let server = Server::start(Answer::Redirect(fer_zip("fer2013/", &Emotion::ALL, 4)));
    std::fs::create_dir_all(tmp.path().join(".kaggle")).unwrap();
    std::fs::write(
        tmp.path().join(".kaggle/kaggle.json"),
        format!("{{\"username\": \"{USER}\", \"key\": \"{KEY}\"}}"),
    )
    .unwrap();
    let summary = json_of(&fetch(
        tmp.path(),
        &dest,
        &server.url(),
        None,
        &["--force", "--json"],
    ));
    assert_eq!(summary["train_images"], 28);
    assert_eq!(
        server.requests(),
        vec![
            format!("GET {DOWNLOAD_PATH} HTTP/1.1"),
            format!("GET {STORAGE_PATH} HTTP/1.1")
        ]
    );
    assert_eq!(
        fer_core::data::load_uncached(&dest).unwrap().train.len(),
        28
    );
    assert_eq!(entries(&tmp.path().join("data")), vec!["fer2013"]);
}

#[test]
fn fetch_failures_are_clear_and_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let dest = data.join("fer2013");
    let nothing_left = || {
        assert!(!dest.exists());
        assert!(
            entries(&data).is_empty(),
            "left behind: {:?}",
            entries(&data)
        );
    };

    let good = Server::start(Answer::Archive(fer_zip("", &Emotion::ALL, 1)));
    // Wrong key: Kaggle answers 401.
    let out = fetch(tmp.path(), &dest, &good.url(), Some((USER, "wrong")), &[]);
    assert_fails_with(&out, &["401", "credentials", USER, "KAGGLE_USERNAME"]);
    nothing_left();

    // No credentials anywhere.
    let out = fetch(tmp.path(), &dest, &good.url(), None, &[]);
    assert_fails_with(&out, &["no Kaggle credentials", "kaggle.json"]);
    nothing_left();
    assert!(good.requests().len() == 1, "no request without credentials");

    // A server error.
    let failing = Server::start(Answer::Status(500));
    let out = fetch(tmp.path(), &dest, &failing.url(), Some((USER, KEY)), &[]);
    assert_fails_with(&out, &["HTTP 500", &failing.url()]);
    nothing_left();

    // A zip that is not FER2013: no disgust or fear folders.
    let wrong = Server::start(Answer::Archive(fer_zip(
        "",
        &[
            Emotion::Angry,
            Emotion::Happy,
            Emotion::Sad,
            Emotion::Surprise,
            Emotion::Neutral,
        ],
        1,
    )));
    let out = fetch(tmp.path(), &dest, &wrong.url(), Some((USER, KEY)), &[]);
    assert_fails_with(&out, &["not FER2013", "train/disgust", "test/fear"]);
    nothing_left();

    // The connection drops halfway through the download.
    let cut = Server::start(Answer::Truncated(fer_zip("", &Emotion::ALL, 3)));
    let out = fetch(tmp.path(), &dest, &cut.url(), Some((USER, KEY)), &[]);
    assert_fails_with(&out, &["broke off"]);
    nothing_left();

    // Not a zip at all (an HTML page, say).
    let html = Server::start(Answer::Archive(b"<html>sign in</html>".to_vec()));
    let out = fetch(tmp.path(), &dest, &html.url(), Some((USER, KEY)), &[]);
    assert_fails_with(&out, &["not a zip archive"]);
    nothing_left();

    // Nobody listening: a port that was free a moment ago.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = fetch(tmp.path(), &dest, &url, Some((USER, KEY)), &[]);
    assert_fails_with(&out, &["cannot reach", &url]);
    nothing_left();

    // A destination whose parent folders do not exist yet: they are not left behind either.
    let deep = tmp.path().join("new/deeper/fer2013");
    let out = fetch(tmp.path(), &deep, &failing.url(), Some((USER, KEY)), &[]);
    assert_fails_with(&out, &["HTTP 500"]);
    assert!(!tmp.path().join("new").exists());

    // An unknown flag.
    let out = fetch(
        tmp.path(),
        &dest,
        &good.url(),
        Some((USER, KEY)),
        &["--bogus"],
    );
    assert_fails_with(&out, &["--bogus"]);
}
